"""`terraform apply` of the dev environment against a moto server on loopback, in the background.

The AWS provider creates Lambda functions one at a time with a fixed 5 s wait each, and waits
30 s per Aurora step, so an apply spends most of its ~100 s waiting. It starts as soon as the
tree is initialised and the other tests run meanwhile (conftest.py orders its tests last).

moto's API Gateway imports only OpenAPI 3 and Chalice writes Swagger 2.0: an override file in
this copy (never in the deployed module) gives the same routes and integrations in OpenAPI 3.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from .support import STAGE, Terraform

REGION = "us-east-1"
SERVICES = [
    "apigateway",
    "cloudwatch",
    "cognitoidp",
    "dynamodb",
    "ec2",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "rds",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "sts",
]
# moto evaluates a bucket policy without its conditions, so the books bucket's TLS-only Deny would
# refuse every object written over moto's plain HTTP, the layer the apply puts there included: in
# moto the statement covers the bucket's own ARN only (the real one covers its objects too).
TLS_ONLY_BUCKET_LEVEL = """data "aws_iam_policy_document" "tls_only" {
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}
"""
# Inputs of the applied environment (read by apply and destroy alike).
TFVARS = 'alarm_email = "oncall@example.com"\n'


@dataclass
class Deployment:
    directory: Path
    endpoint: str
    outputs: dict[str, Any]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}),  # bucket.127.0.0.1 does not resolve
        )


class MotoApply:
    def __init__(self, tree: Path, terraform: Terraform, workdir: Path) -> None:
        self.terraform = terraform
        self.log_path = workdir / "moto.log"
        self._log = self.log_path.open("w")
        port = _free_port()
        # Its own process: no in-process mock_aws of another test can reset its state.
        self._server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=self._log,
            stderr=self._log,
        )
        self.endpoint = f"http://127.0.0.1:{port}"
        root = workdir / "terraform"
        shutil.copytree(tree, root, symlinks=True)  # the providers are symlinks into the mirror
        self.directory = root / "environments" / STAGE
        (self.directory / "moto_override.tf").write_text(provider_override(self.endpoint), encoding="utf-8")
        (self.directory / "moto.auto.tfvars").write_text(TFVARS, encoding="utf-8")
        app = self.directory / "app"
        module = json.loads((app / "chalice.tf.json").read_text(encoding="utf-8"))
        (app / "moto_override.tf.json").write_text(json.dumps(openapi3_override(module)), encoding="utf-8")
        books = root / "modules" / "books-bucket" / "moto_override.tf"
        books.write_text(TLS_ONLY_BUCKET_LEVEL, encoding="utf-8")
        self._process: subprocess.Popen[str] | None = None
        self._error: str | None = None
        self._thread = threading.Thread(target=self._apply, name="terraform-apply-moto", daemon=True)
        self._thread.start()

    def _apply(self) -> None:
        try:
            _wait_for(self.endpoint)
            # moto runs no Lambda code: without Docker, Invoke answers with the request's payload.
            _post_json(f"{self.endpoint}/moto-api/config", {"lambda": {"use_docker": False}})
            command = [
                self.terraform.binary,
                f"-chdir={self.directory}",
                "apply",
                "-auto-approve",
                "-no-color",
            ]
            self._process = subprocess.Popen(
                [*command, "-parallelism=20"],
                env=self.terraform.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            output, _ = self._process.communicate()
            if self._process.returncode != 0:
                self._error = f"terraform apply against moto failed:\n{output[-6000:]}"
        except Exception as error:  # reported to the tests that wait for the deployment
            self._error = f"terraform apply against moto failed: {error!r}"

    def deployment(self, timeout: float = 600) -> Deployment:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "terraform apply against moto did not finish"
        assert self._error is None, self._error
        outputs = json.loads(self.terraform.run(self.directory, "output", "-json"))
        return Deployment(self.directory, self.endpoint, {k: v["value"] for k, v in outputs.items()})

    def close(self) -> None:
        if self._thread.is_alive() and self._process is not None:
            self._process.terminate()  # only when the apply tests were deselected or timed out
        self._thread.join(30)
        self._server.terminate()
        self._server.wait(timeout=10)
        self._log.close()


def provider_override(endpoint: str) -> str:
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in SERVICES)
    return f"""provider "aws" {{
  region                      = "{REGION}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true # bucket.127.0.0.1 does not resolve

  endpoints {{
{endpoints}
  }}
}}
"""


def openapi3_override(module: dict[str, Any]) -> dict[str, Any]:
    """Chalice's Swagger 2.0 routes as OpenAPI 3, the only version moto's PutRestApi accepts."""
    swagger = json.loads(module["locals"]["chalice_api_swagger"])
    paths: dict[str, Any] = {}
    for path, operations in swagger["paths"].items():
        for method, operation in operations.items():
            converted: dict[str, Any] = {
                "responses": {"200": {"description": "200 response"}},
                "x-amazon-apigateway-integration": operation["x-amazon-apigateway-integration"],
            }
            if operation.get("parameters"):
                converted["parameters"] = [
                    {"name": p["name"], "in": p["in"], "required": True, "schema": {"type": "string"}}
                    for p in operation["parameters"]
                ]
            paths.setdefault(path, {})[method] = converted
    document = {"openapi": "3.0.1", "info": swagger["info"], "paths": paths}
    return {"locals": {"chalice_api_swagger": json.dumps(document)}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post_json(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()


def _wait_for(endpoint: str) -> None:
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start")
