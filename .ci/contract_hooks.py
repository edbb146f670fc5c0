"""schemathesis hooks of .ci/contract: the token call's credentials.

The token call (`createAccessToken`, `POST /oauth2/token`) carries the app's credentials in
its body: an app ID, its secret and an instance the app is installed on, which no schema can
generate. In a case generated to be valid, they are the fake's own (`WIX_APP_ID`,
`WIX_APP_SECRET` and `WIX_INSTANCE_ID`, printed by `wix-inbox fake serve`), so the call succeeds
and its answer is checked against the spec; a case generated to break the schema is sent as it
was generated. (Get App Instance's access token comes from `.ci/schemathesis.toml`'s dynamic
auth of the `appToken` scheme, through this same call.)
"""

import os

import schemathesis
from schemathesis.generation import GenerationMode

CREDENTIALS = {
    "client_id": "WIX_APP_ID",
    "client_secret": "WIX_APP_SECRET",
    "instance_id": "WIX_INSTANCE_ID",
}


@schemathesis.hook
def map_case(context, case):
    if case.operation.definition.raw.get("operationId") != "createAccessToken":
        return case
    valid = case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
    if valid and isinstance(case.body, dict):
        case.body.update({field: os.environ[name] for field, name in CREDENTIALS.items()})
    return case


def _parse_lambda_sources_now():
    """Works around a CPython bug (before 3.11.8 and 3.12.1; github.com/python/cpython, issue
    106905): `ast.parse` called deep in a recursion can fail with "SystemError: AST constructor
    recursion depth mismatch". Hypothesis parses a module's source the first time it describes
    one of its lambdas, which schemathesis's coverage phase does deep in its schema recursion,
    and the run ends in a "Runtime Error". Parsed here, at the top of the stack, into a cache
    every worker thread shares (Hypothesis's own is per thread), no source is parsed there.
    Should Hypothesis rename what this relies on, the workaround is left out, not the run."""
    import ast
    import inspect
    import sys

    try:
        from hypothesis.internal import lambda_sources

        extract = lambda_sources.extract_all_lambdas
        lambda_sources.AST_LAMBDAS_CACHE  # noqa: B018
    except (ImportError, AttributeError):
        return
    # The modules whose lambdas the coverage phase describes, loaded now if they are not yet.
    import schemathesis.generation.jsonschema.strategy  # noqa: F401
    import schemathesis.specs.openapi.coverage._schema  # noqa: F401

    shared = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith(("schemathesis", "hypothesis")):
            continue
        try:
            lines, _ = inspect.findsource(module)
        except (OSError, TypeError):
            continue
        if any("lambda" in line for line in lines):
            shared[tuple(lines)] = extract(ast.parse("".join(lines)))
    lambda_sources.AST_LAMBDAS_CACHE = shared


_parse_lambda_sources_now()
