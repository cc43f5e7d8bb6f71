"""The component package's plugin: the engine runs this file (PulumiPlugin.yaml) to serve every
public component of ``triton_components`` as the ``tritonplatform`` package."""

from triton_components.provider import serve

if __name__ == "__main__":
    serve()
