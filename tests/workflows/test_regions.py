"""The region registry built from the policy files: regions by code, key and province, their banks,
and which policy year a moment belongs to.

Cited sources (under /work/shared/domain/): "huian.txt" is
quanzhou-huian-cards-and-2023-medical-insurance.txt, "foshan.txt" is
foshan-card-one-card-and-2022-medical-insurance.txt; "(practice)" and "(assumed)" values are stated
in the policy files with where they come from.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from workflows.policy import Label, Policy, PolicyError
from workflows.policy_loader import load_policies
from workflows.regions import RegionInfo, Regions, code_prefix

POLICIES = Path(__file__).resolve().parents[2] / "definitions" / "policies"
CST = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, hour: int = 12, minute: int = 0) -> datetime:
    """A moment in China Standard Time."""
    return datetime(y, m, d, hour, minute, tzinfo=CST)


@pytest.fixture(scope="module")
def policies() -> dict[str, Policy]:
    return load_policies(POLICIES)


@pytest.fixture(scope="module")
def regions(policies) -> Regions:
    return Regions.from_policies(policies)


def test_one_region_per_key_with_its_years_oldest_first(regions):
    assert regions.keys() == ["foshan", "huian"] and len(regions) == 2
    assert [r.key for r in regions] == ["foshan", "huian"]
    assert "foshan" in regions and "guangzhou" not in regions
    foshan, huian = regions.get("foshan"), regions.get("huian")
    assert [p.policy for p in foshan.policies] == ["foshan-2021", "foshan-2022"]
    assert [p.policy for p in huian.policies] == ["huian-2022", "huian-2023"]
    assert foshan.latest().policy == "foshan-2022" and huian.latest().policy == "huian-2023"


def test_region_facts(regions):
    foshan, huian = regions.get("foshan"), regions.get("huian")
    assert (foshan.code, foshan.province, foshan.prefix) == ("440600", "44", "4406")  # (practice)
    assert foshan.name == Label("佛山市", "Foshan")  # foshan.txt:1
    assert (huian.code, huian.province, huian.prefix) == ("350521", "35", "350521")  # (practice)
    assert huian.name == Label("惠安县", "Hui'an County")  # huian.txt:13
    assert huian.city == Label("泉州市", "Quanzhou")  # huian.txt:1


def test_get_and_find(regions):
    assert regions.find("huian") is regions.get("huian")
    assert regions.find("guangzhou") is None
    with pytest.raises(KeyError, match="unknown region 'guangzhou'; known: foshan, huian"):
        regions.get("guangzhou")


@pytest.mark.parametrize(
    ("region_code", "key"),
    [
        ("440604", "foshan"),  # 禅城区 inside 佛山市 440600 (practice, GB/T 2260)
        ("440606", "foshan"),  # 顺德区
        ("440600", "foshan"),
        ("350521", "huian"),  # 惠安县 itself
        ("350522", None),  # another Quanzhou code: a county code matches only itself
        ("350500", None),  # 泉州市 as a whole is not Hui'an
        ("110105", None),  # Beijing
        ("440100", None),  # Guangzhou, same province as Foshan
        ("4406", None),  # not a 6-digit code
        ("44060x", None),
    ],
)
def test_by_code(regions, region_code, key):
    found = regions.by_code(region_code)
    assert (found.key if found else None) == key


@pytest.mark.parametrize(
    ("code", "prefix"),
    [("440600", "4406"), ("350521", "350521"), ("440000", "44"), ("350500", "3505")],
)
def test_code_prefix(code, prefix):
    assert code_prefix(code) == prefix


def test_by_code_prefers_the_most_specific_region(policies):
    # A region inside another (a Quanzhou-wide region holding Hui'an's county code): the county wins.
    quanzhou = _other_region(policies["huian-2023"], key="quanzhou", code="350500")
    regions = Regions.from_policies({**policies, quanzhou.policy: quanzhou})
    assert regions.by_code("350521").key == "huian"
    assert regions.by_code("350522").key == "quanzhou"


def test_of_province(regions):
    assert [r.key for r in regions.of_province("44")] == ["foshan"]
    assert [r.key for r in regions.of_province("35")] == ["huian"]
    assert regions.of_province("11") == []


def test_foshan_banks_are_the_17_of_the_document(regions):
    banks = regions.get("foshan").banks  # foshan.txt:26, in the document's order
    assert list(banks) == [
        "icbc", "abc", "boc", "ccb", "ceb", "foshan_rcb", "nanhai_rcb", "shunde_rcb", "cgb",
        "crbank", "bocom", "psbc", "gzcb", "citic", "pingan", "cib", "cmb",
    ]  # fmt: skip
    assert banks["shunde_rcb"] == Label("顺德农商", "Shunde Rural Commercial Bank")
    assert banks["cmb"] == Label("招商银行", "China Merchants Bank")
    with pytest.raises(TypeError):
        banks["new_bank"] = Label("新银行", "New Bank")  # type: ignore[index]


def test_huian_banks_are_the_assumed_list(regions):
    # huian.txt:9 mentions partner banks (合作银行) without naming them: (assumed, practice) list
    banks = regions.get("huian").banks
    assert list(banks) == ["icbc", "abc", "boc", "ccb", "bocom", "psbc", "cib", "fjnx", "qzccb"]
    assert banks["fjnx"] == Label("福建省农村信用社", "Fujian Rural Credit Union")
    assert banks["qzccb"] == Label("泉州银行", "Bank of Quanzhou")


def test_bank_label_of_any_region(regions):
    assert regions.bank_label("icbc") == Label("工商银行", "ICBC")  # both regions
    assert regions.bank_label("foshan_rcb") == Label("佛山农商", "Foshan Rural Commercial Bank")
    assert regions.bank_label("qzccb") == Label("泉州银行", "Bank of Quanzhou")
    assert regions.bank_label("unknown") is None


def test_policy_lookup(regions, policies):
    for policy_id, policy in policies.items():
        assert regions.policy(policy_id) is policy
    assert regions.policy("huian-2021") is None
    assert regions.get("huian").policy_for_year(2022) is policies["huian-2022"]
    assert regions.get("foshan").policy_for_year(2023) is None


@pytest.mark.parametrize(
    ("moment", "key", "open_", "current"),
    [
        # foshan-2022 opened 2021-09-01 (practice); huian-2022 1 Sep - 31 Dec 2021 (practice)
        (at(2021, 10, 1), "foshan", "foshan-2022", "foshan-2022"),
        (at(2021, 10, 1), "huian", "huian-2022", "huian-2022"),
        # foshan.txt:46 extended to 2022-02-28; Hui'an 2022's period is over (late payments only)
        (at(2022, 2, 15), "foshan", "foshan-2022", "foshan-2022"),
        (at(2022, 2, 15), "huian", None, "huian-2022"),
        (at(2022, 2, 28, 23, 59), "foshan", "foshan-2022", "foshan-2022"),
        # foshan.txt:67: after the deadline nothing is open; people still belong to 2022
        (at(2022, 3, 1, 0, 0), "foshan", None, "foshan-2022"),
        (at(2022, 3, 1), "huian", None, "huian-2022"),
        # huian.txt:23: 2023's period 2022-09-01 to 2022-12-31
        (at(2022, 9, 15), "huian", "huian-2023", "huian-2023"),
        (at(2022, 9, 1, 0, 0), "huian", "huian-2023", "huian-2023"),
        (at(2022, 8, 31, 23, 59), "huian", None, "huian-2022"),
        (at(2023, 3, 1), "huian", None, "huian-2023"),  # huian.txt:25 late payment for 2023
        # foshan-2021 (assumed): 2020-09-01 to 2020-12-31
        (at(2020, 11, 1), "foshan", "foshan-2021", "foshan-2021"),
        (at(2021, 5, 1), "foshan", None, "foshan-2021"),
        # before any shipped period: the earliest year
        (at(2019, 1, 1), "foshan", None, "foshan-2021"),
        (at(2019, 1, 1), "huian", None, "huian-2022"),
    ],
)
def test_open_for_payment_and_current(regions, moment, key, open_, current):
    region = regions.get(key)
    opened = region.open_for_payment(moment)
    assert (opened.policy if opened else None) == open_
    assert region.current(moment).policy == current


def test_moments_must_be_aware(regions):
    with pytest.raises(ValueError, match="aware"):
        regions.get("foshan").open_for_payment(datetime(2021, 10, 1))
    with pytest.raises(ValueError, match="aware"):
        regions.get("huian").current(datetime(2021, 10, 1))


def test_region_info_is_frozen_and_hashable(regions):
    foshan = regions.get("foshan")
    with pytest.raises(dataclasses.FrozenInstanceError):
        foshan.key = "other"  # type: ignore[misc]
    assert {foshan: 1}[regions.get("foshan")] == 1
    assert "policies" not in repr(foshan) and "foshan" in repr(foshan)


def test_facts_come_from_the_latest_year(policies):
    renamed = dataclasses.replace(
        policies["huian-2023"].region, name=Label("惠安县（新）", "Hui'an (new)")
    )
    latest = dataclasses.replace(policies["huian-2023"], region=renamed)
    region = RegionInfo.from_policies([latest, policies["huian-2022"]])
    assert region.name.en == "Hui'an (new)"
    assert [p.year for p in region.policies] == [2022, 2023]


def test_registry_refuses_two_policies_for_one_year(policies):
    twin = dataclasses.replace(policies["huian-2023"], policy="huian-2023b", source="b.yaml")
    with pytest.raises(PolicyError, match=r"b\.yaml: year: .*same year"):
        Regions.from_policies({**policies, "huian-2023b": twin})


def test_registry_refuses_two_regions_with_one_code(policies):
    clash = _other_region(policies["huian-2023"], key="chongwu", code="350521")
    with pytest.raises(PolicyError, match="region.code: also the code of region"):
        Regions.from_policies({**policies, clash.policy: clash})


def test_registry_refuses_a_bank_code_with_two_labels(policies):
    policy = _other_region(policies["huian-2023"], key="quanzhou", code="350500")
    bank = dataclasses.replace(policy.region.banks[0], label=Label("工行", "ICBC Quanzhou"))
    region = dataclasses.replace(policy.region, banks=(bank,))
    other = dataclasses.replace(policy, region=region)
    with pytest.raises(PolicyError, match=r"region\.banks\[0\]\.label: bank 'icbc' is labelled"):
        Regions.from_policies({**policies, other.policy: other})


def test_load_reads_a_directory(tmp_path):
    folder = tmp_path / "policies"
    folder.mkdir()
    for name in ("huian-2022", "huian-2023"):
        text = (POLICIES / f"{name}.yaml").read_text(encoding="utf-8")
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    regions = Regions.load(folder)
    assert regions.keys() == ["huian"] and regions.by_code("440604") is None


def test_a_new_region_from_a_new_file_joins_the_registry(tmp_path):
    folder = tmp_path / "policies"
    folder.mkdir()
    data = yaml.safe_load((POLICIES / "huian-2023.yaml").read_text(encoding="utf-8"))
    data.pop("renews_from")
    data["policy"] = "jinjiang-2023"
    data["region"].update(key="jinjiang", code="350582", name={"zh": "晋江市", "en": "Jinjiang"})
    text = yaml.safe_dump(data, allow_unicode=True)
    (folder / "jinjiang-2023.yaml").write_text(text, encoding="utf-8")
    regions = Regions.load(folder)
    assert regions.by_code("350582").key == "jinjiang"  # (practice) GB/T 2260 晋江市
    assert regions.get("jinjiang").current(at(2022, 10, 1)).policy == "jinjiang-2023"


def _other_region(policy: Policy, *, key: str, code: str) -> Policy:
    """``policy`` as if it were another region's (same year), for registry checks."""
    region = dataclasses.replace(policy.region, key=key, code=code)
    policy_id = f"{key}-{policy.year}"
    return dataclasses.replace(policy, region=region, policy=policy_id, source=f"{policy_id}.yaml")
