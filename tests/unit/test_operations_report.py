"""The operations report's pure parts: verdicts, the access-log join, parameters, the section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session

from conformance.operation_calls import Scratch, minimal_params
from conformance.operation_outcomes import Outcome, botocore_operations, resolve_from_log
from conformance.operations_report import main
from conformance.operations_section import BEGIN, END, carried_section, problems, splice

NAMES = botocore_operations()


def _outcome(operation: str, resolved: str | None, status: int = 200, **kw: Any) -> Outcome:
    kw.setdefault("authenticated", True)
    return Outcome(operation, status, kw.pop("code", ""), "R1", resolved, **kw)


def test_verdicts() -> None:
    assert _outcome("PutObject", "PutObject").verdict(NAMES) == "served"
    assert _outcome("CompleteMultipartUpload", "CompleteMultipartUpload", 400,
                    code="MalformedXML").verdict(NAMES) == "served"  # fmt: skip
    assert _outcome("ListDirectoryBuckets", "ListBuckets").verdict(NAMES) == "served"
    refused = _outcome("GetBucketAcl", "Unsupported", 501, code="NotImplemented")
    assert refused.verdict(NAMES) == "refused (501 NotImplemented)"
    named = _outcome("PutBucketVersioning", "PutBucketVersioning", 501, code="NotImplemented")
    assert named.verdict(NAMES) == "refused (501 NotImplemented)"
    unsigned = _outcome("ListBuckets", "ListBuckets", 400, code="AuthorizationHeaderMalformed",
                        authenticated=False)  # fmt: skip
    assert unsigned.verdict(NAMES).startswith("refused")
    wrong = _outcome("PutObjectAnnotation", "PutObject", changed="overwrote the object")
    assert wrong.verdict(NAMES) == "misrouted as PutObject"
    assert _outcome("GetObject", None, status=0).verdict(NAMES).startswith("unreached")


def test_problems_name_misroutes_5xx_and_refusals_that_changed_something() -> None:
    outcomes = [
        _outcome("PutObjectAnnotation", "PutObject", changed="overwrote the object"),
        _outcome("GetBucketAcl", "Unsupported", 500, code="InternalError"),
        _outcome("GetBucketCors", "Unsupported", 503, code="SlowDown"),
        _outcome("DeleteObject", "DeleteObject", 204, changed="deleted the object"),
        _outcome("DeleteBucketCors", "Unsupported", 501, changed="deleted the bucket"),
    ]
    document = {"lane": "local", "outcomes": [o.__dict__ for o in outcomes]}
    assert problems(document) == [
        "local: PutObjectAnnotation answered by PutObject (200)",
        "local: PutObjectAnnotation refused but overwrote the object",
        "local: GetBucketAcl answered 500 InternalError",
        "local: DeleteBucketCors refused but deleted the bucket",
    ]


def test_the_access_log_decides_operation_status_and_code() -> None:
    calls = [
        Outcome("ListObjectAnnotations", 500, "500", "A1", None),  # botocore's own 500
        Outcome("GetBucketAcl", 501, "NotImplemented", "A2", None),
        Outcome("UpdateObjectEncryption", None, "ParamValidationError", None, None),
    ]
    log = "\n".join([
        '{"level":"info","message":"s3proxy serving"}',
        json.dumps({"request_id": "A1", "operation": "GetObject", "tenant": "t", "status": 200}),
        json.dumps({"request_id": "A2", "operation": "Unsupported", "status": 501,
                    "error": "NotImplemented"}),
        "{not json",
    ])  # fmt: skip
    first, second, third = resolve_from_log(calls, lambda: log, deadline=0)
    assert (first.resolved, first.status, first.code) == ("GetObject", 200, "")
    assert first.verdict(NAMES) == "misrouted as GetObject"
    assert (second.resolved, second.authenticated) == ("Unsupported", False)
    assert third == calls[2]


def test_minimal_params_address_the_scratch_bucket_and_pass_botocore_validation() -> None:
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("s3")
    scratch = Scratch("ops-b", lambda: "upload-1")
    for name in model.operation_names:
        operation = model.operation_model(name)
        params = minimal_params(operation, scratch)
        report = ParamValidator().validate(params, operation.input_shape)
        assert not report.has_errors(), (name, report.generate_report())
    assert minimal_params(model.operation_model("UploadPart"), scratch) == {
        "Bucket": "ops-b", "Key": "ops-object", "PartNumber": 1, "UploadId": "upload-1"
    }  # fmt: skip
    assert minimal_params(model.operation_model("DeleteBucket"), scratch) == {"Bucket": "ops-b-new"}


def test_splice_replaces_only_its_own_section() -> None:
    section = f"{BEGIN}\n## S3 operations\nnew\n{END}\n"
    assert splice("# Compatibility\n\nclients\n", section) == (
        f"# Compatibility\n\nclients\n\n{section}"
    )
    old = f"# Compatibility\n\n{BEGIN}\nold\n{END}\n\n## After\n"
    assert splice(old, section) == f"# Compatibility\n\n{section}## After\n"
    assert carried_section(old) == f"{BEGIN}\nold\n{END}\n"
    assert carried_section("# Compatibility\n") is None


def test_render_writes_counts_and_one_row_per_operation(tmp_path: Path) -> None:
    results = tmp_path / "operations"
    results.mkdir()
    for lane, put in (("local", "PutObject"), ("ceph", "PutObject")):
        outcomes = [_outcome(n, n, 501, code="NotImplemented").__dict__ for n in NAMES]
        outcomes[NAMES.index("PutObjectAnnotation")] = _outcome("PutObjectAnnotation", put).__dict__
        outcomes[NAMES.index("PutObject")] = _outcome("PutObject", "PutObject").__dict__
        document = {"lane": lane, "botocore": "1.0", "started": "T", "outcomes": outcomes}
        (results / f"{lane}.json").write_text(json.dumps(document))
    output = tmp_path / "COMPATIBILITY.md"
    output.write_text("# Compatibility\n\nclient matrix\n")
    assert main(["render", "--results", str(results), "--output", str(output)]) == 0
    text = output.read_text()
    assert text.startswith("# Compatibility\n\nclient matrix\n")
    refused = len(NAMES) - 2
    assert f"| `ceph` | 1.0 | T | 1 | {refused} | 1 | 0 |" in text
    assert f"| `local` | 1.0 | T | 1 | {refused} | 1 | 0 |" in text
    assert text.index("| `ceph` |") < text.index("| `local` |")
    misrouted = "❌ misrouted as PutObject"
    assert f"| `PutObjectAnnotation` | {misrouted} | {misrouted} |" in text
    assert sum(line.startswith("| `") for line in text.splitlines()) == len(NAMES) + 2
    assert main(["render", "--results", str(results), "--output", str(output)]) == 0
    assert output.read_text() == text  # idempotent


def test_the_client_matrix_generator_keeps_the_operations_section(tmp_path: Path) -> None:
    from conformance import compat_report

    results = tmp_path / "results.json"
    results.write_text(json.dumps({"started": "T", "seconds": 1, "platform": "Linux",
                                   "upstreams": {}, "sessions": []}))  # fmt: skip
    output = tmp_path / "COMPATIBILITY.md"
    section = f"{BEGIN}\n## S3 operations\nkept\n{END}\n"
    output.write_text(f"# Compatibility\n\nold matrix\n\n{section}")
    assert compat_report.main(["--results", str(results), "--output", str(output)]) == 0
    text = output.read_text()
    assert "old matrix" not in text and text.endswith(f"\n\n{section}")
