"""`pip install .` (not only editable) ships the schemas and rule data inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from conftest import REPO


def test_wheel_contains_schemas_and_rule_data_and_runs_from_site_packages(tmp_path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheel_dir), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    wheel = next(wheel_dir.glob("claims_audit-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("claims_audit/schemas/claims-extract-v1.yaml", "claims_audit/schemas/mapping-example.yaml",
                   "claims_audit/data/documentation/vocabulary.yaml", "claims_audit/data/cms/claim_edit_policy.yaml",
                   "claims_audit/data/icd10cm/icd10cm_codes.csv", "claims_audit/data/rules/documentation.yaml",
                   "claims_audit/schemas/presets/synpuf-carrier.yaml",
                   "claims_audit/schemas/presets/tuva-medical-claim.yaml"):
        assert needed in names, needed
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, timeout=600)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import claims_audit.schema as s; "
            "assert s.__file__.startswith(sys.argv[1]), s.__file__; "
            "assert str(s.schemas_dir()).startswith(sys.argv[1]); "
            "from claims_audit import presets; names = presets.available(); "
            "assert all(str(p).startswith(sys.argv[1]) for p in names.values()), names; "
            "assert [s.load_layout(p).name for p in names.values()] == list(names), names; "
            "print(len(s.load_layout().names))")
    out = subprocess.run([sys.executable, "-c", code, str(target)], check=True, capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.stdout.strip() == "44"  # 28 columns + icd9_dx_1..12, claim_frequency, original_claim_id,
    # revenue_code, bill_type
