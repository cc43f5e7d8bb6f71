"""moto's server, with S3's HeadBucket authorized as AWS authorizes it.

AWS checks ``s3:ListBucket`` for HeadBucket ("To use this operation, you must have permissions to
perform the s3:ListBucket action": the HeadBucket page of the Amazon S3 API reference); moto asks
for a non-existent ``s3:HeadBucket`` action instead, so a correct least-privilege policy would be
refused. Triton's S3 client calls HeadBucket first. Run as ``python moto_s3_server.py <moto args>``.
"""

from moto.s3 import responses
from moto.server import main

responses.ACTION_MAP["BUCKET"]["HEAD"]["DEFAULT"] = "ListBucket"

if __name__ == "__main__":
    main()
