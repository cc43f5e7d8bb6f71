// The TypeScript twin of examples/triton-yaml: the SDK is generated into ./sdk by the test.
import * as pulumi from "@pulumi/pulumi";
import * as tritonplatform from "./sdk";

const server = new tritonplatform.TritonServer("inference", {
    namespace: "inference",
    modelRepository: "gs://my-team-models/triton",
    modelControlMode: "explicit",
    modelGroups: [
        { name: "vision", models: ["resnet50"], replicas: 2, gpusPerReplica: 1 },
        { name: "text", models: ["bert-base"], replicas: 2, cpu: "2", memory: "8Gi" },
    ],
    serviceAccountAnnotations: { "iam.gke.io/gcp-service-account": "models@my-project.iam.gserviceaccount.com" },
});

export const endpoints: pulumi.Output<{ [group: string]: { [protocol: string]: string } }> = server.endpoints;
export const namespace: pulumi.Output<string> = server.namespace;
