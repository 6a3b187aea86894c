#!/usr/bin/env python3
"""Runs provledger's integration tests (tests/integration/test_network.py).

    run.py --provd PATH --provctl PATH [TestClass[.test_method] ...]

With no names it runs every test case. CTest runs one test class per CTest
test (tests/integration/CMakeLists.txt). Exit status 0 iff all passed.
Set PROV_IT_KEEP=1 to keep the temporary directories for inspection.
"""
import argparse
import os
import sys
import time
import unittest


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--provd", required=True)
    ap.add_argument("--provctl", required=True)
    ap.add_argument("names", nargs="*", help="TestClass or TestClass.test_method (default: all)")
    args = ap.parse_args()
    for p in (args.provd, args.provctl):
        if not os.access(p, os.X_OK):
            ap.error(f"{p} is not an executable")
    os.environ["PROVD"] = os.path.abspath(args.provd)
    os.environ["PROVCTL"] = os.path.abspath(args.provctl)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import test_network  # noqa: E402  (needs PROVD/PROVCTL in the environment first)
    test_network.PROVD = os.environ["PROVD"]
    test_network.PROVCTL = os.environ["PROVCTL"]
    loader = unittest.TestLoader()
    if args.names:
        suite = loader.loadTestsFromNames(args.names, test_network)
    else:
        suite = loader.loadTestsFromModule(test_network)
    t0 = time.monotonic()
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    print(f"integration: {result.testsRun} test(s) in {time.monotonic() - t0:.1f} s", flush=True)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
