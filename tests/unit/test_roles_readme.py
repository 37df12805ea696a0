"""The README's table of roles and permissions is the code's ``GRANTS``, cell for cell."""

from __future__ import annotations

from pathlib import Path

from stockline.domain.security import GRANTS, Permission, Role, Scope

README = Path(__file__).resolve().parents[2] / "README.md"
CELL = {Scope.ANY: "all", Scope.OWN: "own", None: "-"}


def roles_table() -> str:
    """The Markdown table of GRANTS: a row per permission, a column per role."""
    roles = list(Role)
    lines = ["| permission | " + " | ".join(role.value for role in roles) + " |",
             "|---|" + "---|" * len(roles)]
    for permission in Permission:
        cells = " | ".join(CELL[GRANTS[role].get(permission)] for role in roles)
        lines.append(f"| `{permission.value}` | {cells} |")
    return "\n".join(lines)


def test_the_readme_table_of_roles_is_the_grants_of_the_code() -> None:
    text = README.read_text()
    section = text.split("## Roles and permissions", 1)[1].split("\n## ", 1)[0]
    assert roles_table() in section, (
        "README.md's table differs from domain.security.GRANTS; paste this one:\n\n"
        + roles_table())
