#!/usr/bin/env bash
# Runs the module helper libraries' own test suites (Go and TypeScript); Python's run under pytest.
set -euo pipefail
