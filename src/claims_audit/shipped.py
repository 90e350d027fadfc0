"""Where the files shipped inside the package are: the rule data (``data/``) and the layouts
(``schemas/``). Every module finds them through here, so an installed wheel and a source checkout
behave the same."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PACKAGE = Path(str(resources.files("claims_audit")))
DATA = PACKAGE / "data"  # versioned rule data: vocabularies, crosswalk, CMS tables, ICD-10-CM, catalogue
DOCUMENTATION_DATA = DATA / "documentation"
CMS_DATA = DATA / "cms"
ICD10CM_DATA = DATA / "icd10cm"
RULE_CATALOGUE = DATA / "rules"
RULESET = DATA / "ruleset.yaml"


def schemas_dir() -> Path:
    """The shipped layouts: inside the wheel, or the repository's schemas/ in a source checkout."""
    packaged = PACKAGE / "schemas"
    if packaged.is_dir():
        return packaged
    return PACKAGE.parents[1] / "schemas"
