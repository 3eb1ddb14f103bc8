"""A contract import-linter lacks: modules that may import only the standard library and a
list of the project's own packages (the core: domain, services, ports).

Each import is judged where it is made, TYPE_CHECKING blocks included, so an annotation
that needs pydantic's Settings counts as depending on pydantic.
"""

from __future__ import annotations

import sys
from typing import Any

from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


class StdlibOnlyContract(Contract):
    source_modules = fields.ListField(subfield=fields.StringField())
    allowed_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph: Any, verbose: bool) -> ContractCheck:
        allowed = [str(name) for name in self.allowed_modules]  # type: ignore[attr-defined]
        found: list[dict[str, Any]] = []
        for package in self.source_modules:  # type: ignore[attr-defined]
            for importer in sorted({str(package)} | graph.find_descendants(str(package))):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    if _stdlib(imported) or any(_within(imported, own) for own in allowed):
                        continue
                    lines = graph.get_import_details(importer=importer, imported=imported)
                    found.append({"importer": importer, "imported": imported, "lines": lines})
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for item in check.metadata["found"]:
            where = ", ".join(f"l.{detail['line_number']}" for detail in item["lines"])
            output.print_error(f"{item['importer']} imports {item['imported']} ({where})")
            output.new_line()


def _stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")
