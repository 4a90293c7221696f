"""Offline Terraform: find a local provider mirror and write a CLI config that installs from it.

`terraform init` normally downloads providers from the registry. With a filesystem mirror of
hashicorp/aws (the layout `terraform providers mirror` writes), init and validate need no network.
The mirror is $TF_PLUGIN_MIRROR, else the first usual place that holds hashicorp/aws: Terraform's
implied mirror folders, then any folder directly under /opt or /usr/local (machine images often
put one there).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PROVIDER = "registry.terraform.io/hashicorp/aws"
_USUAL_PLACES = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "/opt/*",
    "/usr/local/*",
)


class TerraformSetupError(Exception):
    """Terraform or the provider mirror is missing; the message says how to provide it."""


def find_terraform() -> str:
    found = os.environ.get("TERRAFORM") or shutil.which("terraform")
    if not found:
        raise TerraformSetupError(
            "terraform not found: install Terraform >= 1.3 (tested with 1.11) "
            "or set TERRAFORM=/path/to/terraform"
        )
    return found


def find_mirror() -> Path:
    """A directory holding registry.terraform.io/hashicorp/aws/<version>/..."""
    explicit = os.environ.get("TF_PLUGIN_MIRROR")
    for path in [Path(explicit)] if explicit else _candidates():
        if (path / PROVIDER).is_dir() and any((path / PROVIDER).iterdir()):
            return path
    where = f"TF_PLUGIN_MIRROR={explicit}" if explicit else "any of " + ", ".join(_USUAL_PLACES)
    raise TerraformSetupError(
        f"no filesystem mirror of hashicorp/aws in {where}. Create one with "
        "`terraform providers mirror DIR` in terraform/environments/dev (needs the registry once) "
        "and set TF_PLUGIN_MIRROR=DIR."
    )


def _candidates() -> list[Path]:
    found: list[Path] = []
    for place in _USUAL_PLACES:
        path = Path(place).expanduser()
        if path.name == "*":
            found.extend(sorted(child for child in path.parent.glob("*") if child.is_dir()))
        else:
            found.append(path)
    return found


def cli_config(mirror: Path) -> str:
    """A CLI config that takes hashicorp providers from `mirror` only (never the network)."""
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror.resolve()}"\n'
        '    include = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "}\n"
    )


def offline_env(config_file: Path) -> dict[str, str]:
    """The environment for running terraform offline with `config_file` (written here)."""
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(cli_config(find_mirror()), encoding="utf-8")
    return {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(config_file),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",  # no version check against checkpoint-api.hashicorp.com
    }
