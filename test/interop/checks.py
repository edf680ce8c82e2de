"""The check protocol of the interop scripts: one JSON line per check on stdout,
{"check": name, "ok": bool, "detail": ...}, which test/python.ts turns into node tests."""

import json
import traceback

_failures = 0


def report(name, ok, detail=None):
    global _failures
    if not ok:
        _failures += 1
    print(json.dumps({"check": name, "ok": bool(ok), "detail": detail}, default=str), flush=True)


def failed():
    """How many checks failed so far."""
    return _failures


class CheckFailed(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def run_check(name, fn):
    """Runs one check; an exception (an RpcError included) fails it with a readable detail."""
    import grpc

    try:
        detail = fn()
        report(name, True, detail)
    except CheckFailed as e:
        report(name, False, str(e))
    except grpc.RpcError as e:
        code = e.code() if hasattr(e, "code") else None
        details = e.details() if hasattr(e, "details") else None
        report(name, False, f"unexpected RPC error {code}: {details}")
    except Exception as e:  # noqa: BLE001 - report, do not crash the remaining checks
        report(name, False, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}")
