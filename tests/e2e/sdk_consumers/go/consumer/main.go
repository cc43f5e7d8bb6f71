// The Go twin of examples/triton-yaml: the SDK is generated into ../tritonplatform by the test.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"example.com/pulumi-tritonplatform/sdk/go/tritonplatform"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		replicas, gpus := 2, 1
		cpu, memory := "2", "8Gi"
		server, err := tritonplatform.NewTritonServer(ctx, "inference", &tritonplatform.TritonServerArgs{
			Namespace:        pulumi.StringRef("inference"),
			ModelRepository:  pulumi.String("gs://my-team-models/triton"),
			ModelControlMode: pulumi.StringRef("explicit"),
			ModelGroups: []tritonplatform.ModelGroupArgs{
				{Name: "vision", Models: []string{"resnet50"}, Replicas: &replicas, GpusPerReplica: &gpus},
				{Name: "text", Models: []string{"bert-base"}, Replicas: &replicas, Cpu: &cpu, Memory: &memory},
			},
			ServiceAccountAnnotations: pulumi.StringMap{
				"iam.gke.io/gcp-service-account": pulumi.String("models@my-project.iam.gserviceaccount.com"),
			},
		})
		if err != nil {
			return err
		}
		ctx.Export("endpoints", server.Endpoints)
		ctx.Export("namespace", server.Namespace)
		return nil
	})
}
