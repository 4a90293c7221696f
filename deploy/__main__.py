"""`python -m deploy package` (Chalice -> Terraform child module), `migrate` and `load-library`
(Aurora), `tf-config` and `checkov` (offline checks), `smoke` (one course through a deployed stack)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from deploy.package import PROJECT_DIR, app_name, assemble, chalice_package, load_app
from deploy.postprocess import Options, PostProcessError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deploy")
    commands = parser.add_subparsers(dest="command", required=True)
    package = commands.add_parser("package", help="chalice package + post-process into the environment")
    package.add_argument("--stage", default="dev")
    package.add_argument("--build-dir", type=Path, help="raw chalice output (default build/chalice-STAGE)")
    package.add_argument("--out", type=Path, help="module dir (default terraform/environments/STAGE/app)")
    tf_config = commands.add_parser("tf-config", help="write a Terraform CLI config using the local mirror")
    tf_config.add_argument("path", type=Path)
    checkov = commands.add_parser("checkov", help="stock checkov with .checkov.yaml; parsing errors fail too")
    checkov.add_argument("root", type=Path)
    smoke = commands.add_parser(
        "smoke", help="post a course to a deployed stack (SigV4) and poll it to complete"
    )
    smoke.add_argument("--stage", default="dev", help="read api_url from terraform/environments/STAGE")
    smoke.add_argument("--api-url", help="the API stage's base URL, instead of the Terraform output")
    smoke.add_argument("--region", help="default: from the URL, else the AWS configuration")
    smoke.add_argument("--query", default="Learn DCF valuation")
    smoke.add_argument("--hours", type=float, default=2.0)
    smoke.add_argument("--timeout", type=float, default=900, help="seconds to wait for a terminal status")
    migrate = commands.add_parser("migrate", help="apply the schema migrations to Aurora")
    load = commands.add_parser(
        "load-library",
        help="embed book files with $COURSEGEN_EMBEDDER (default openai) and load them into Aurora",
    )
    load.add_argument("files", nargs="+", type=Path, metavar="FILE")
    env = os.environ.get
    for command in (migrate, load):
        command.add_argument("--host", default=env("DB_CLUSTER_ENDPOINT"), help="endpoint, or a tunnel to it")
        command.add_argument("--port", type=int, default=5432)
        command.add_argument("--database", default=env("DB_NAME"))
        command.add_argument("--user", default=env("DB_MASTER_USERNAME"))
        command.add_argument("--secret-arn", default=env("DB_PASSWORD_SECRET_ARN"))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command in ("migrate", "load-library"):
        missing = [name for name in ("host", "database", "user", "secret_arn") if not getattr(args, name)]
        if missing:
            parser.error(
                f"missing --{', --'.join(m.replace('_', '-') for m in missing)} (or the DB_* variables)"
            )
    command: Callable[[argparse.Namespace], int] = {
        "package": _package,
        "tf-config": _tf_config,
        "checkov": _checkov,
        "smoke": _smoke,
        "migrate": _migrate,
        "load-library": _load_library,
    }[args.command]
    return command(args)


def _package(args: argparse.Namespace) -> int:
    raw = args.build_dir or PROJECT_DIR / "build" / f"chalice-{args.stage}"
    out = args.out or PROJECT_DIR / "terraform" / "environments" / args.stage / "app"
    try:
        chalice_package(args.stage, raw)
        assemble(raw, out, Options(app_name(), args.stage), load_app())
    except PostProcessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


def _tf_config(args: argparse.Namespace) -> int:
    from deploy.terraform_cli import TerraformSetupError, cli_config, find_mirror

    try:
        args.path.parent.mkdir(parents=True, exist_ok=True)
        args.path.write_text(cli_config(find_mirror()), encoding="utf-8")
    except TerraformSetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(args.path)
    return 0


def _checkov(args: argparse.Namespace) -> int:
    from deploy.checkov_scan import find_checkov, scan

    binary = find_checkov()
    if binary is None:
        print("error: checkov not found: run `make iac-setup`", file=sys.stderr)
        return 1
    result = scan(args.root, binary)
    for line in result.failed:
        print(f"FAILED: {line}")
    print(
        f"checkov with .checkov.yaml: {result.passed} passed, {len(result.skipped)} skipped inline "
        f"(with reasons), {len(result.failed)} failed, {result.parsing_errors} parsing errors"
    )
    return 1 if result.failed or result.parsing_errors else 0


def _migrate(args: argparse.Namespace) -> int:
    from deploy.aurora import migrate_aurora

    applied = migrate_aurora(args.host, args.port, args.database, args.user, args.secret_arn)
    print(f"applied {', '.join(applied)}" if applied else "schema up to date")
    return 0


def _load_library(args: argparse.Namespace) -> int:
    from chalicelib.bootstrap import make_embedder
    from chalicelib.config import Settings
    from chalicelib.errors import CourseGenError
    from deploy.aurora import connection_factory, load_library

    try:
        settings = Settings.from_env({"COURSEGEN_EMBEDDER": "openai", **os.environ})
        connect = connection_factory(args.host, args.port, args.database, args.user, args.secret_arn)
        loaded = load_library(connect, args.files, make_embedder(settings))
    except CourseGenError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    chapters = sum(book.chapters for book in loaded)
    print(f"loaded {len(loaded)} book(s), {chapters} chapters")
    return 0


def _smoke(args: argparse.Namespace) -> int:
    import botocore.session

    from deploy.smoke import Signer, SmokeError, api_url_from_terraform, describe, region_of, run_smoke

    session = botocore.session.Session()
    credentials = session.get_credentials()
    if credentials is None:
        print("error: no AWS credentials (environment, profile or role)", file=sys.stderr)
        return 1
    try:
        api_url = args.api_url or api_url_from_terraform(
            PROJECT_DIR / "terraform" / "environments" / args.stage
        )
        signer = Signer(credentials, region_of(api_url, args.region or session.get_config_variable("region")))
        print(f"smoke test of {api_url}")
        request = {"query": args.query, "hours": args.hours}
        result = run_smoke(api_url, signer, request, deadline_seconds=args.timeout)
    except SmokeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(describe(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
