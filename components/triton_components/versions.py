"""Every upstream version the library deploys, pinned in one visible place.

Bump these deliberately, in their own commit, after reading the upstream release notes.
The golden renders under ``tests/golden`` show every place a bump lands.
"""

from __future__ import annotations

#: NVIDIA Triton Inference Server container (NGC ``nvcr.io/nvidia/tritonserver``).
#: Release notes: https://docs.nvidia.com/deeplearning/triton-inference-server/release-notes/
#: 26.10 is the newest release whose notes we read. It is well above the security floor below.
TRITON_IMAGE_REPOSITORY = "nvcr.io/nvidia/tritonserver"
TRITON_IMAGE_TAG = "26.10-py3"

#: Oldest Triton release the config validation accepts. 25.07 fixes the Python-backend RCE chain
#: and HTTP stack overflows of NVIDIA security bulletin 5687 (CVE-2025-23310/23311/23317/23319/
#: 23320/23334); bulletin 5535 (CVE-2024-0087/0088/0100) was fixed in 24.04.
TRITON_MINIMUM_RELEASE = (25, 7)
