#!/usr/bin/env bash
# The pure core (model, mechanics, hedge maths) must stay deterministic: no clock reads, no
# random ids, no unseeded randomness, no Foundation. Prints offending lines and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
pure=(Sources/PerpModel Sources/PerpMechanics Sources/PerpHedge Sources/PerpSimulation Sources/PerpReports Sources/PerpEngine Sources/PerpExecution Sources/PerpSignals)
pattern='Date\(\)|UUID\(\)|\.random\(|SystemRandomNumberGenerator|ContinuousClock|SuspendingClock|import Foundation|DispatchTime'
if grep -rnE "$pattern" "${pure[@]}"; then
  echo "check-pure: the lines above read a clock, make random ids or import Foundation in a pure module" >&2
  exit 1
fi
echo "check-pure: ${pure[*]} are free of clocks, random ids and Foundation"
