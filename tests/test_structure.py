"""Structure of the addons: manifests, dependency direction, access rules, names (the house style: OCA layout)."""

import ast
import csv
import re
import xml.etree.ElementTree as ET

import pytest

from .conftest import ADDONS
from .conftest import ROOT
from .conftest import manifest

EXPECTED_DEPENDS = {
    "distribution_observability": {"base", "mail", "web"},
    "distribution_orchestration": {"distribution_observability", "sale_stock", "purchase_stock", "base_automation"},
    "distribution_approvals": {"distribution_orchestration"},
    "distribution_ai_triage": {"distribution_orchestration"},
}
# XML ids of records of these models must match these patterns (house naming rules).
XMLID_RULES = {
    "ir.ui.view": r"_view_[a-z0-9_]+$",
    "ir.actions.act_window": r"_action(_[a-z0-9_]+)?$",
    "ir.actions.server": r"_action(_[a-z0-9_]+)?$",
    "ir.actions.client": r"_action(_[a-z0-9_]+)?$",
    "ir.actions.report": r"_(action|report)(_[a-z0-9_]+)?$",
    "res.groups": r"^group_[a-z0-9_]+$",
    "ir.rule": r"_rule(_[a-z0-9_]+)?$",
    "ir.cron": r"^ir_cron_[a-z0-9_]+$",
    "ir.module.category": r"^(base\.)?module_category_[a-z0-9_]+$",
}
FOLDERS = ("data", "demo", "security", "views", "wizards", "report")


def _python_files(addon):
    return [p for p in (ROOT / addon).rglob("*.py") if "__pycache__" not in p.parts]


def _data_files(addon):
    return [p for folder in FOLDERS for p in (ROOT / addon / folder).glob("*") if p.suffix in (".xml", ".csv")]


def _models(addon):
    """(model name, file, base class) of every model an addon defines with _name."""
    found = []
    for path in (ROOT / addon / "models").glob("*.py"), (ROOT / addon / "wizards").glob("*.py"):
        for file in path:
            tree = ast.parse(file.read_text())
            for node in ast.walk(tree):
                if not isinstance(node, ast.ClassDef):
                    continue
                attrs = {
                    target.id: stmt.value
                    for stmt in node.body
                    if isinstance(stmt, ast.Assign)
                    for target in stmt.targets
                    if isinstance(target, ast.Name)
                }
                name = attrs.get("_name")
                inherit = attrs.get("_inherit")
                base = ast.unparse(node.bases[0]) if node.bases else ""
                if isinstance(name, ast.Constant):
                    inherited = (
                        [inherit.value]
                        if isinstance(inherit, ast.Constant)
                        else [e.value for e in inherit.elts if isinstance(e, ast.Constant)]
                        if isinstance(inherit, ast.List)
                        else []
                    )
                    if name.value in inherited:
                        found.append((name.value, file, "inherit"))
                        continue
                    found.append((name.value, file, base))
                elif isinstance(inherit, ast.Constant):
                    found.append((inherit.value, file, "inherit"))
    return found


@pytest.mark.parametrize("addon", ADDONS)
def test_manifest(addon):
    data = manifest(addon)
    assert re.fullmatch(r"18\.0\.\d+\.\d+\.\d+", data["version"])
    assert data["license"] == "LGPL-3"
    for key in ("name", "summary", "author", "website", "category", "depends"):
        assert data.get(key), f"{addon}: manifest lacks {key}"
    assert (ROOT / addon / "static/description/icon.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (ROOT / addon / "static/description/index.html").stat().st_size > 0
    assert (ROOT / addon / "readme/DESCRIPTION.md").read_text().strip()
    for key in ("data", "demo"):
        for rel in data.get(key, []):
            assert (ROOT / addon / rel).is_file(), f"{addon}: {key} file {rel} is missing"


@pytest.mark.parametrize("addon", ADDONS)
def test_every_data_file_is_loaded(addon):
    data = manifest(addon)
    listed = set(data.get("data", [])) | set(data.get("demo", []))
    for path in _data_files(addon):
        assert str(path.relative_to(ROOT / addon)) in listed, f"{path} is not in the manifest"


@pytest.mark.parametrize("addon", ADDONS)
def test_dependencies_point_one_way(addon):
    depends = set(manifest(addon)["depends"])
    assert depends == EXPECTED_DEPENDS[addon]
    level = ADDONS[addon]
    for other, other_level in ADDONS.items():
        if other != addon and other_level >= level:
            assert other not in depends, f"{addon} must not depend on {other}"
            for file in _python_files(addon):
                text = file.read_text()
                assert f"odoo.addons.{other}" not in text, f"{file} imports {other}, a higher or sibling addon"
            for file in _data_files(addon):
                assert (
                    f'"{other}.' not in file.read_text() and f"'{other}." not in file.read_text()
                ), f"{file} refers to {other}"


@pytest.mark.parametrize("addon", ADDONS)
def test_every_model_has_access_rules(addon):
    acl = ROOT / addon / "security" / "ir.model.access.csv"
    rows = list(csv.DictReader(acl.open())) if acl.exists() else []
    for row in rows:
        assert row["id"].startswith("access_"), row["id"]
    covered = {row["model_id:id"].split(".")[-1] for row in rows}
    for name, file, base in _models(addon):
        if base in ("inherit", "models.AbstractModel"):
            continue
        assert f"model_{name.replace('.', '_')}" in covered, f"{name} ({file.name}) has no access rule"


@pytest.mark.parametrize("addon", ADDONS)
def test_model_files_are_named_after_their_model(addon):
    by_file = {}
    for name, file, _base in _models(addon):
        by_file.setdefault(file, []).append(name.replace(".", "_"))
    for file, names in by_file.items():
        assert file.stem in names, f"{file.name} holds {names}: name the file after its model"


@pytest.mark.parametrize("addon", ADDONS)
def test_services_are_pure_python(addon):
    for file in (ROOT / addon / "services").glob("*.py"):
        tree = ast.parse(file.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n == "odoo" or n.startswith("odoo.") for n in names), f"{file} imports odoo"


@pytest.mark.parametrize("addon", ADDONS)
def test_xml_ids_and_file_names_follow_conventions(addon):
    for path in _data_files(addon):
        rel = path.relative_to(ROOT / addon)
        folder, name = rel.parts[0], rel.name
        if folder == "views":
            assert re.fullmatch(r"[a-z0-9_]+_(views|menus|templates)\.xml", name), rel
        elif folder == "security":
            assert name in (f"{addon}_security.xml", "ir.model.access.csv"), rel
        elif folder in ("data", "demo"):
            assert re.fullmatch(rf"[a-z0-9_]+_{folder}\.xml", name), rel
        elif folder == "wizards":
            assert re.fullmatch(r"[a-z0-9_]+_views\.xml", name), rel
        if path.suffix != ".xml":
            continue
        root = ET.parse(path).getroot()
        assert root.tag == "odoo", rel
        for element in root.iter():
            xmlid = element.get("id")
            if not xmlid or element.tag not in ("record", "menuitem", "template"):
                continue
            if element.tag == "menuitem":
                assert "." in xmlid or xmlid.endswith("_menu"), f"{rel}: menu id {xmlid} must end with _menu"
                continue
            rule = XMLID_RULES.get(element.get("model"))
            if rule and ("." not in xmlid or element.get("model") == "ir.module.category"):
                assert re.search(rule, xmlid), f"{rel}: {element.get('model')} id {xmlid} must match {rule}"


@pytest.mark.parametrize("addon", ADDONS)
def test_person_facing_text_is_in_the_translation_template(addon):
    """Each addon ships i18n/<addon>.pot, and every literal its Python code passes to env._() is in it
    (regenerate with odoo-bin --i18n-export=<addon>/i18n/<addon>.pot --modules=<addon>)."""
    pot = ROOT / addon / "i18n" / f"{addon}.pot"
    assert pot.is_file(), f"{addon} ships no {pot.relative_to(ROOT)}"
    msgids = set()
    current = None
    for line in pot.read_text().splitlines():
        if line.startswith("msgid "):
            current = ast.literal_eval(line[6:])
        elif line.startswith('"') and current is not None:
            current += ast.literal_eval(line)
        else:
            if current:
                msgids.add(current)
            current = None
    missing = []
    for path in (ROOT / addon).rglob("*.py"):
        if "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and node.args[0].value not in msgids
            ):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.args[0].value[:60]}")
    assert not missing, "not in the .pot (export it again):\n" + "\n".join(missing)
