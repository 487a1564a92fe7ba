import PerpHedge
import PerpModel
import Testing

private func usd(_ text: String) -> Notional { Notional(text)! }
private func shares(_ text: String) -> Shares { Shares(text)! }

@Suite struct PoolLedgerTests {
    let op: DepositorID = "operator"
    let alice: DepositorID = "alice"
    let bob: DepositorID = "bob"

    func ledger(fee: String = "0.1", minimum: String = "0.05") throws -> PoolLedger {
        try PoolLedger(operator: op, feeRate: Rate(fee)!, minimumOperatorShare: Rate(minimum)!)
    }

    @Test func twoDepositorsAsNAVMoves() throws {
        var pool = try ledger()
        // The first deposit mints one share per USDC.
        let seed = try pool.deposit(op, amount: usd("100"), nav: .zero)
        #expect(seed.sharesMinted == shares("100") && seed.navAfter == usd("100"))
        let a = try pool.deposit(alice, amount: usd("900"), nav: usd("100"))
        #expect(a.sharesMinted == shares("900") && pool.totalShares == shares("1000"))
        // The short made money: NAV 1500, 1.5 USDC a share.
        #expect(try pool.claim(op, nav: usd("1500")) == usd("150"))
        #expect(try pool.claim(alice, nav: usd("1500")) == usd("1350"))
        // Bob buys in at 1.5: 300 USDC → 200 shares; nobody else's claim moves.
        let b = try pool.deposit(bob, amount: usd("300"), nav: usd("1500"))
        #expect(b.sharesMinted == shares("200") && b.navAfter == usd("1800") && pool.totalShares == shares("1200"))
        #expect(try pool.claim(alice, nav: usd("1800")) == usd("1350"))
        #expect(try pool.claim(bob, nav: usd("1800")) == usd("300"))
        // NAV falls to 1200 (1 a share): Bob leaves at a loss and pays no fee.
        let out = try pool.withdraw(bob, .all, nav: usd("1200"))
        #expect(out.payout == usd("200") && out.fee == .zero && out.feeShares == .zero && out.navAfter == usd("1000"))
        #expect(pool.account(bob)!.withdrawn - pool.account(bob)!.deposited == usd("-100"))
        // NAV 2000 (2 a share): Alice's 900 shares are worth 1800 on a basis of 900; the fee is
        // 10 % of the 900 profit = 90 USDC = 45 shares moved to the operator; she is paid 1710.
        let exit = try pool.withdraw(alice, .all, nav: usd("2000"))
        #expect(exit.grossValue == usd("1800") && exit.releasedBasis == usd("900"))
        #expect(exit.feeShares == shares("45") && exit.fee == usd("90") && exit.sharesBurned == shares("855"))
        #expect(exit.payout == usd("1710") && exit.navAfter == usd("290"))
        #expect(pool.operatorShares == shares("145") && pool.totalShares == shares("145"))
        #expect(try pool.claim(op, nav: usd("290")) == usd("290"))
        #expect(pool.operatorFeesEarned == usd("90"))
        #expect(pool.accounts.map(\.depositor) == [op, alice, bob])
    }

    @Test func roundingDustStaysInThePool() throws {
        var pool = try ledger()
        try pool.deposit(op, amount: usd("1"), nav: .zero)
        // NAV 1.00000002 for 1 share: Alice's 1 USDC buys ⌊1 × 1 / 1.00000002⌋ = 0.99999998.
        let a = try pool.deposit(alice, amount: usd("1"), nav: usd("1.00000002"))
        #expect(a.sharesMinted == shares("0.99999998"))
        #expect(try pool.claim(op, nav: usd("2.00000002")) == usd("1.00000002"))
        #expect(try pool.claim(alice, nav: usd("2.00000002")) == usd("0.99999999"))
        let b = try pool.deposit(bob, amount: usd("3"), nav: usd("2.00000002"))
        #expect(b.sharesMinted == shares("2.99999994"))
        let audit = pool.audit(nav: usd("5.00000002"))
        #expect(audit.claims.map(\.1) == [usd("1.00000002"), usd("0.99999999"), usd("2.99999999")])
        #expect(audit.sumOfClaims == usd("5") && audit.dust == usd("0.00000002") && audit.holders == 3 && audit.isConsistent)
    }

    @Test func feeIsChargedOnProfitOnlyAndOnce() throws {
        var pool = try ledger(fee: "0.2", minimum: "0")
        try pool.deposit(op, amount: usd("100"), nav: .zero)
        try pool.deposit(alice, amount: usd("1000"), nav: usd("100"))
        // At a loss: no fee.
        let loss = try pool.withdraw(alice, .shares(shares("100")), nav: usd("550"))
        #expect(loss.fee == .zero && loss.payout == usd("50") && loss.releasedBasis == usd("100"))
        #expect(pool.account(alice)!.costBasis == usd("900"))
        // Back to break-even (1 a share): still no fee.
        let even = try pool.withdraw(alice, .shares(shares("100")), nav: usd("1000"))
        #expect(even.fee == .zero && even.payout == usd("100"))
        // 3 a share: 100 shares are worth 300 on a basis of 100; 20 % of the 200 profit is 40 USDC,
        // paid as ⌊0.2 × (100 − 100/3)⌋ = 13.33333333 shares (worth 39.99999999).
        let profit = try pool.withdraw(alice, .value(usd("300")), nav: usd("2700"))
        #expect(profit.sharesRedeemed == shares("100") && profit.releasedBasis == usd("100"))
        #expect(profit.feeShares == shares("13.33333333") && profit.fee == usd("39.99999999"))
        #expect(profit.payout == usd("260.00000001") && profit.payout + profit.fee == usd("300"))
        // The remaining 700 shares carry a basis of 700: the profit already charged is not charged again.
        #expect(pool.account(alice)!.costBasis == usd("700"))
        #expect(pool.operatorShares == shares("113.33333333"))
        let rest = try pool.withdraw(alice, .all, nav: profit.navAfter)
        #expect(rest.releasedBasis == usd("700") && rest.sharesRedeemed == shares("700"))
        #expect(rest.grossValue == usd("2100") && rest.fee == usd("279.99999999"))
        #expect(pool.account(alice)!.shares == .zero && pool.account(alice)!.costBasis == .zero)
        #expect(pool.account(alice)!.feesPaid == usd("319.99999998"))
        // The operator pays no fee on its own profit.
        let own = try pool.withdraw(op, .shares(shares("10")), nav: rest.navAfter)
        #expect(own.fee == .zero && own.feeShares == .zero && own.payout == usd("30"))
    }

    @Test func minimumOperatorShare() throws {
        var pool = try ledger()
        try pool.deposit(op, amount: usd("100"), nav: .zero)
        try pool.deposit(alice, amount: usd("900"), nav: usd("100"))
        // The operator holds 10 %; it may redeem x with 100 − x ≥ 5 % × (1000 − x): x ≤ 52.63157894.
        #expect(pool.operatorRedeemable == shares("52.63157894"))
        #expect(throws: PoolError.operatorBelowMinimum(requested: shares("53"), maximum: shares("52.63157894"), minimum: Rate("0.05")!)) {
            try pool.withdraw(op, .shares(shares("53")), nav: usd("1000"))
        }
        var nav = try pool.withdraw(op, .shares(shares("52.63157894")), nav: usd("1000")).navAfter
        #expect(nav == usd("947.36842106") && !pool.operatorBelowMinimum)
        #expect(pool.operatorRedeemable == .zero)
        #expect(throws: PoolError.self) { try pool.withdraw(op, .shares(shares("0.00000001")), nav: nav) }
        // Deposits by others that dilute the operator are allowed, and flagged.
        nav = try pool.deposit(bob, amount: usd("10000"), nav: nav).navAfter
        #expect(pool.operatorBelowMinimum)
        // x = ⌈(0.05 × 10947.36842106 − 47.36842106) / 0.95⌉ = 526.31578947 shares (one USDC each).
        let needed = pool.operatorShortfall
        #expect(needed == shares("526.31578947"))
        let topUp = Notional(raw: Int64(FixedMath.divide(Int128(needed.raw) * Int128(nav.raw), Int128(pool.totalShares.raw), .up)))
        nav = try pool.deposit(op, amount: topUp, nav: nav).navAfter
        #expect(!pool.operatorBelowMinimum && pool.operatorShortfall == .zero)
        #expect(!(pool.operatorShare! < Fraction(Rate("0.05")!)))
        // Withdrawals by others only raise the operator's share; with everyone else gone the
        // operator may close the pool.
        nav = try pool.withdraw(alice, .all, nav: nav).navAfter
        nav = try pool.withdraw(bob, .all, nav: nav).navAfter
        #expect(pool.holders == 1 && nav == usd("573.68421053"))
        #expect(pool.operatorRedeemable == pool.operatorShares)
        let close = try pool.withdraw(op, .all, nav: nav)
        #expect(close.payout == nav && close.navAfter == .zero && pool.totalShares == .zero)
    }

    @Test func errors() throws {
        var pool = try ledger()
        #expect(throws: PoolError.invalidConfiguration("the operator fee must be a fraction of profit in [0, 1) (got 1)")) {
            try PoolLedger(operator: op, feeRate: Rate.one, minimumOperatorShare: .zero)
        }
        #expect(throws: PoolError.self) { try PoolLedger(operator: op, feeRate: .zero, minimumOperatorShare: Rate("-0.1")!) }
        #expect(throws: PoolError.nonPositiveAmount("a deposit (got 0 USDC)")) { try pool.deposit(alice, amount: .zero, nav: .zero) }
        #expect(throws: PoolError.nonPositiveAmount("a deposit (got -5 USDC)")) { try pool.deposit(alice, amount: usd("-5"), nav: .zero) }
        #expect(throws: PoolError.negativeNAV(usd("-1"))) { try pool.deposit(alice, amount: usd("5"), nav: usd("-1")) }
        try pool.deposit(alice, amount: usd("100"), nav: .zero)
        #expect(throws: PoolError.nonPositiveNAV(.zero)) { try pool.deposit(bob, amount: usd("5"), nav: .zero) }
        #expect(throws: PoolError.nonPositiveNAV(usd("-3"))) { try pool.withdraw(alice, .all, nav: usd("-3")) }
        #expect(throws: PoolError.unknownDepositor(bob)) { try pool.withdraw(bob, .all, nav: usd("100")) }
        #expect(throws: PoolError.unknownDepositor(bob)) { try pool.claim(bob, nav: usd("100")) }
        #expect(throws: PoolError.negativeNAV(usd("-1"))) { try pool.claim(alice, nav: usd("-1")) }
        #expect(try pool.claim(alice, nav: .zero) == .zero)
        #expect(throws: PoolError.insufficientShares(alice, requested: shares("100.00000001"), held: shares("100"))) {
            try pool.withdraw(alice, .shares(shares("100.00000001")), nav: usd("100"))
        }
        #expect(throws: PoolError.exceedsClaim(alice, requested: usd("150.00000001"), claim: usd("150"))) {
            try pool.withdraw(alice, .value(usd("150.00000001")), nav: usd("150"))
        }
        #expect(throws: PoolError.nonPositiveAmount("the shares to redeem (got 0)")) {
            try pool.withdraw(alice, .shares(.zero), nav: usd("100"))
        }
        #expect(throws: PoolError.noShares(op)) { try pool.withdraw(op, .all, nav: usd("100")) }
        // One raw unit at a share price above one buys nothing.
        #expect(throws: PoolError.depositTooSmall(usd("0.00000001"), nav: usd("200"), totalShares: shares("100"))) {
            try pool.deposit(bob, amount: usd("0.00000001"), nav: usd("200"))
        }
        // Refused operations leave the ledger as it was.
        #expect(pool.totalShares == shares("100") && pool.accounts.count == 2)
        for error: PoolError in [
            .unknownDepositor(bob), .noShares(op), .insufficientShares(alice, requested: shares("2"), held: shares("1")),
            .exceedsClaim(alice, requested: usd("2"), claim: usd("1")), .nonPositiveAmount("x"), .nonPositiveNAV(.zero),
            .negativeNAV(usd("-1")),
            .depositTooSmall(usd("0.00000001"), nav: usd("200"), totalShares: shares("100")),
            .operatorBelowMinimum(requested: shares("2"), maximum: shares("1"), minimum: Rate("0.05")!), .outOfRange("x"),
            .invalidConfiguration("x"),
        ] {
            #expect(!error.description.isEmpty && !error.description.contains("\n"))
        }
        #expect(PoolError.unknownDepositor(bob).description.contains("bob"))
        #expect(
            PoolError.insufficientShares(alice, requested: shares("2"), held: shares("1")).description
                == "alice asked to redeem 2 shares but holds 1")
    }
}

@Suite struct PoolPropertyTests {
    /// Random deposits, withdrawals (by shares, value or all, the operator's included) and NAV
    /// moves; after each step the invariants hold exactly.
    @Test(arguments: 0..<8)
    func invariantsHoldOverRandomSequences(batch: Int) throws {
        let names: [DepositorID] = ["operator", "a", "b", "c", "d", "e"]
        var generator = SplitMix64(seed: 0x9001_0000 + UInt64(batch))
        var operations = 0
        var feesCharged = 0
        var operatorRefusals = 0
        var withdrawals = 0
        for _ in 0..<40 {
            let fee = Rate(raw: Int64(generator.next() % UInt64(Rate.scale / 2)))
            let minimum = Rate(raw: Int64(generator.next() % UInt64(Rate.scale / 4)))
            var pool = try PoolLedger(operator: names[0], feeRate: fee, minimumOperatorShare: minimum)
            var nav = Notional.zero
            for _ in 0..<80 {
                let before = pool
                let navBefore = nav
                let actor = names[Int(generator.next() % UInt64(names.count))]
                let step = generator.next() % 10
                var actors: [DepositorID] = [actor]
                var tolerance: Int64 = 0
                if step < 4 || pool.totalShares.isZero {
                    // Deposit between 10⁻⁸ and 100,000 USDC with random digits.
                    let amount = Notional(raw: generator.int(1...(generator.next() % 2 == 0 ? 100_000_000 : 10_000_000_000_000)))
                    do {
                        let receipt = try pool.deposit(actor, amount: amount, nav: nav)
                        nav = receipt.navAfter
                        tolerance = pool.totalShares == receipt.sharesMinted ? 0 : ceilRatio(navBefore, before.totalShares)
                        // The new shares are worth at most what was paid, and less by under one share-unit.
                        let worth = pool.value(of: receipt.sharesMinted, nav: nav)
                        if before.totalShares.isPositive {
                            #expect(worth <= amount)
                            #expect(amount.raw - worth.raw <= tolerance + 1)
                        }
                    } catch {
                        #expect(pool == before)
                        switch error {
                        case .depositTooSmall, .outOfRange: break
                        default: Issue.record("unexpected \(error)")
                        }
                    }
                } else if step < 8 {
                    let held = pool.shares(of: actor)
                    let request: PoolRedemption
                    switch generator.next() % 3 {
                    case 0: request = .all
                    case 1: request = .shares(Shares(raw: generator.int(1...max(1, held.raw + 10))))
                    default: request = .value(Notional(raw: generator.int(1...max(1, pool.value(of: held, nav: nav).raw + 10))))
                    }
                    do {
                        let receipt = try pool.withdraw(actor, request, nav: nav)
                        nav = receipt.navAfter
                        actors.append(names[0])
                        withdrawals += 1
                        if receipt.feeShares.isPositive { feesCharged += 1 }
                        tolerance = 1
                        // payout + fee ≤ s·NAV/S < payout + fee + 2·10⁻⁸.
                        let exact = Int128(receipt.sharesRedeemed.raw) * Int128(navBefore.raw)
                        let paid = (Int128(receipt.payout.raw) + Int128(receipt.fee.raw)) * Int128(before.totalShares.raw)
                        #expect(paid <= exact && exact - paid < 2 * Int128(before.totalShares.raw))
                        // The fee is charged on profit only, at most at the fee rate.
                        let profitTimesS = exact - Int128(receipt.releasedBasis.raw) * Int128(before.totalShares.raw)
                        if profitTimesS <= 0 { #expect(receipt.feeShares == .zero) }
                        let profit = receipt.grossValue - receipt.releasedBasis
                        #expect(receipt.fee <= (profit.isPositive ? profit.times(fee, rule: .up) : .zero))
                        if actor == names[0] {
                            #expect(receipt.feeShares == .zero)
                            #expect(
                                pool.totalShares.isZero
                                    || Int128(pool.operatorShares.raw) * Int128(Rate.scale) >= Int128(minimum.raw)
                                        * Int128(pool.totalShares.raw)
                                    || pool.operatorShares == pool.totalShares)
                        }
                    } catch {
                        #expect(pool == before)
                        switch error {
                        case .operatorBelowMinimum:
                            #expect(actor == names[0])
                            operatorRefusals += 1
                        case .unknownDepositor, .noShares, .insufficientShares, .exceedsClaim: break
                        default: Issue.record("unexpected \(error)")
                        }
                    }
                } else {
                    // NAV is multiplied or divided by a factor in [1, 3), or moves by a few raw units.
                    switch generator.next() % 3 {
                    case 0:
                        nav = Notional(raw: FixedMath.mulDiv(nav.raw, generator.int(1000...2999), 1000, .toNearestOrEven))
                    case 1:
                        nav = Notional(raw: FixedMath.mulDiv(nav.raw, 1000, generator.int(1000...2999), .toNearestOrEven))
                    default:
                        nav = Notional(raw: max(0, nav.raw + generator.int(-3...3)))
                    }
                    if nav.isZero && pool.totalShares.isPositive { nav = Notional(raw: 1) }
                    actors = names
                }
                operations += 1
                // Σ shares = total; Σ claims ≤ NAV < Σ claims + holders × 10⁻⁸.
                #expect(pool.accounts.reduce(Int64(0)) { $0 + $1.shares.raw } == pool.totalShares.raw)
                let audit = pool.audit(nav: nav)
                #expect(audit.isConsistent, "NAV \(nav) claims \(audit.sumOfClaims) holders \(audit.holders)")
                if pool.totalShares.isZero { #expect(nav.isZero) }
                // Nobody else's shares moved, and their claims rose by at most the dust bound.
                for account in before.accounts where !actors.contains(account.depositor) {
                    #expect(pool.shares(of: account.depositor) == account.shares)
                    let change = pool.value(of: account.shares, nav: nav).raw - before.value(of: account.shares, nav: navBefore).raw
                    #expect(change >= 0 && change <= max(tolerance, 0), "\(account.depositor) claim changed by \(change)")
                }
            }
        }
        #expect(operations == 40 * 80)
        // The sequences reach every rule.
        #expect(withdrawals > 200 && feesCharged > 20 && operatorRefusals > 5, "\(withdrawals) \(feesCharged) \(operatorRefusals)")
    }
}

/// `⌈NAV / S⌉` in raw units, at least 1: one share-unit's value.
private func ceilRatio(_ nav: Notional, _ total: Shares) -> Int64 {
    guard total.isPositive else { return 1 }
    return max(1, Int64(FixedMath.divide(Int128(nav.raw), Int128(total.raw), .up)))
}
