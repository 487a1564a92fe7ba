import PerpModel

// Share accounting for a pool that an operator runs (spec §2; seed 003 "Extension").
//
// Depositors add and withdraw USDC at the pool's net asset value (NAV), which the caller supplies
// (the venue's account value: collateral plus the short's unrealised PnL and funding). The ledger
// only counts shares; it never holds money. Every division is exact in `Int128` and rounded once,
// always against the actor of the operation, so rounding dust stays in the pool for the holders
// who stay:
//
// - deposit: `minted = ⌊amount × totalShares / NAV⌋` (the first deposit into an empty pool mints
//   one share per USDC);
// - withdrawal: `payout = ⌊burned × NAV / totalShares⌋`;
// - claim: `⌊shares × NAV / totalShares⌋`.
//
// Hence `Σ claims ≤ NAV` and `NAV − Σ claims < holders × 10⁻⁸`, and a deposit or withdrawal only
// moves the other holders' claims up, by less than one share-unit's value (10⁻⁸ share) in total.
//
// **Operator fee (on profit, at withdrawal).** Each account carries a cost basis: the USDC it paid
// in for the shares it still holds (the fee's high-water mark). Redeeming `s` of `h` shares releases
// `⌈basis × s / h⌉` of it (all of it with the last share), and the fee is
// `feeRate × max(0, value of s − released basis)`. The fee is paid **in shares transferred to the
// operator** (`⌊feeRate × (s − releasedBasis × totalShares / NAV)⌋` shares, rounded down, in the
// depositor's favour): the withdrawer burns the rest and is paid for them. Transferring shares,
// rather than minting new ones or paying the operator cash, leaves every other holder's claim
// untouched and keeps the operator's fee invested in the pool alongside the depositors; the only
// cash that leaves the pool is the withdrawer's payout. Profit is charged once: the burned shares
// leave with their basis, and a loss is never charged. The operator pays no fee on its own shares.
//
// **Minimum operator share.** The operator should hold at least `minimumOperatorShare` of all
// shares (Lighter public pools' operator share). Deposits by others may dilute the operator below
// it (they are never refused for it; ``PoolLedger/operatorBelowMinimum`` says so, and the operator
// is expected to top up), withdrawals by others only raise the operator's share, and an operator
// withdrawal is refused when it would leave the operator with less than the minimum of the shares
// that remain — unless nobody else holds shares (closing the pool).

/// Pool shares: an exact fixed-point count with 8 decimals (one share per USDC at the first
/// deposit, so a share's raw step and USDC's raw step coincide).
public struct Shares: FixedPointValue {
    public static let decimals = 8
    public let raw: Int64
    @inlinable public init(raw: Int64) { self.raw = raw }
}

/// Who holds shares: a depositor's name, or the operator's.
public struct DepositorID: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let value: String
    public init(_ value: String) { self.value = value }
    public init(stringLiteral value: String) { self.value = value }
    public var description: String { value }
    public static func < (lhs: DepositorID, rhs: DepositorID) -> Bool { lhs.value < rhs.value }
}

/// One holder's account in the ledger.
public struct PoolAccount: Hashable, Sendable {
    public var depositor: DepositorID
    public var shares: Shares
    /// USDC paid in for the shares still held: the high-water mark above which the operator fee
    /// is charged at withdrawal.
    public var costBasis: Notional
    /// All USDC deposited, ever.
    public var deposited: Notional
    /// All USDC paid out, ever (after fees).
    public var withdrawn: Notional
    /// Value of the shares transferred to the operator as fees, at the NAV of each withdrawal.
    public var feesPaid: Notional

    public init(depositor: DepositorID) {
        self.depositor = depositor
        shares = .zero
        costBasis = .zero
        deposited = .zero
        withdrawn = .zero
        feesPaid = .zero
    }
}

/// What a withdrawal asks for.
public enum PoolRedemption: Hashable, Sendable {
    /// This many shares.
    case shares(Shares)
    /// Shares worth at least this much USDC before the fee: `⌈value × totalShares / NAV⌉` shares.
    /// The value must not exceed the depositor's claim.
    case value(Notional)
    /// Every share the depositor holds.
    case all
}

/// The outcome of a deposit.
public struct PoolDepositReceipt: Hashable, Sendable {
    public var depositor: DepositorID
    public var amount: Notional
    public var sharesMinted: Shares
    public var navBefore: Notional
    /// `navBefore + amount`: the NAV to pass to the next operation.
    public var navAfter: Notional
    public var totalSharesAfter: Shares
}

/// The outcome of a withdrawal.
public struct PoolWithdrawalReceipt: Hashable, Sendable {
    public var depositor: DepositorID
    /// Shares taken from the depositor: `sharesBurned + feeShares`.
    public var sharesRedeemed: Shares
    /// Shares cancelled and paid for.
    public var sharesBurned: Shares
    /// Shares transferred to the operator as the fee.
    public var feeShares: Shares
    /// Cost basis released with the redeemed shares.
    public var releasedBasis: Notional
    /// `⌊sharesRedeemed × NAV / totalShares⌋`: the redeemed shares' value before the fee.
    public var grossValue: Notional
    /// `⌊feeShares × NAV / totalShares⌋`: the fee's value.
    public var fee: Notional
    /// `⌊sharesBurned × NAV / totalShares⌋`: USDC that leaves the pool.
    public var payout: Notional
    public var navBefore: Notional
    /// `navBefore − payout`.
    public var navAfter: Notional
    public var totalSharesAfter: Shares
}

/// Claims against a NAV and the dust that rounding leaves in the pool.
public struct PoolAudit: Hashable, Sendable {
    public var nav: Notional
    /// Every account's claim, in ledger order (holders without shares included, at zero).
    public var claims: [(DepositorID, Notional)]
    public var sumOfClaims: Notional
    /// `NAV − Σ claims`.
    public var dust: Notional
    /// Accounts holding shares.
    public var holders: Int
    /// `0 ≤ dust < holders × 10⁻⁸` (with no holders: `dust == NAV`, anything non-negative).
    public var isConsistent: Bool {
        guard !dust.isNegative else { return false }
        return holders == 0 || dust.raw < Int64(holders)
    }

    public static func == (lhs: PoolAudit, rhs: PoolAudit) -> Bool {
        lhs.nav == rhs.nav && lhs.sumOfClaims == rhs.sumOfClaims && lhs.dust == rhs.dust && lhs.holders == rhs.holders
            && lhs.claims.count == rhs.claims.count && zip(lhs.claims, rhs.claims).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(nav)
        hasher.combine(sumOfClaims)
        for (id, claim) in claims {
            hasher.combine(id)
            hasher.combine(claim)
        }
    }
}

/// Why the ledger refused an operation; each message says what was wrong.
public enum PoolError: Error, Equatable, CustomStringConvertible {
    case unknownDepositor(DepositorID)
    case noShares(DepositorID)
    case insufficientShares(DepositorID, requested: Shares, held: Shares)
    case exceedsClaim(DepositorID, requested: Notional, claim: Notional)
    case nonPositiveAmount(String)
    case nonPositiveNAV(Notional)
    case negativeNAV(Notional)
    case depositTooSmall(Notional, nav: Notional, totalShares: Shares)
    case operatorBelowMinimum(requested: Shares, maximum: Shares, minimum: Rate)
    case outOfRange(String)
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .unknownDepositor(let id):
            return "unknown depositor \"\(id)\": no deposit was ever made under that name"
        case .noShares(let id):
            return "\(id) holds no shares to withdraw"
        case .insufficientShares(let id, let requested, let held):
            return "\(id) asked to redeem \(requested) shares but holds \(held)"
        case .exceedsClaim(let id, let requested, let claim):
            return "\(id) asked to withdraw \(requested) USDC but their shares are worth \(claim) USDC"
        case .nonPositiveAmount(let what):
            return "\(what) must be greater than zero"
        case .nonPositiveNAV(let nav):
            return "the pool's NAV must be greater than zero while shares are outstanding (got \(nav)): shares cannot be priced"
        case .negativeNAV(let nav):
            return "the pool's NAV cannot be negative (got \(nav))"
        case .depositTooSmall(let amount, let nav, let total):
            return "a deposit of \(amount) USDC buys no share at NAV \(nav) for \(total) shares; deposit more"
        case .operatorBelowMinimum(let requested, let maximum, let minimum):
            return
                "the operator must keep at least \(minimum.formatted(places: 4)) of all shares: it may redeem at most \(maximum) shares now (asked for \(requested))"
        case .outOfRange(let what):
            return "\(what) is outside the range the ledger can represent"
        case .invalidConfiguration(let message):
            return message
        }
    }
}

/// Exact share accounting for an operator-run pool; see the comment at the top of this file.
/// NAV is always the caller's figure at the moment of the operation. Accounts keep the order of
/// their first deposit (the operator's first), so every listing is deterministic.
public struct PoolLedger: Hashable, Sendable {
    /// The operator's account (always `accounts[0]`).
    public let operatorID: DepositorID
    /// Fraction of a withdrawal's profit paid to the operator, in `[0, 1)`.
    public let feeRate: Rate
    /// Least fraction of all shares the operator must keep when it withdraws, in `[0, 1)`.
    public let minimumOperatorShare: Rate
    public private(set) var totalShares: Shares = .zero
    /// Accounts in the order of their first deposit; the operator's first.
    public private(set) var accounts: [PoolAccount]
    /// Value of all fee shares the operator received, each at the NAV of its withdrawal.
    public private(set) var operatorFeesEarned: Notional = .zero
    private var index: [DepositorID: Int]

    public init(operator operatorID: DepositorID, feeRate: Rate, minimumOperatorShare: Rate) throws(PoolError) {
        guard !feeRate.isNegative, feeRate < Rate.one else {
            throw .invalidConfiguration("the operator fee must be a fraction of profit in [0, 1) (got \(feeRate))")
        }
        guard !minimumOperatorShare.isNegative, minimumOperatorShare < Rate.one else {
            throw .invalidConfiguration("the minimum operator share must be a fraction in [0, 1) (got \(minimumOperatorShare))")
        }
        self.operatorID = operatorID
        self.feeRate = feeRate
        self.minimumOperatorShare = minimumOperatorShare
        accounts = [PoolAccount(depositor: operatorID)]
        index = [operatorID: 0]
    }

    // MARK: Reading

    public func account(_ depositor: DepositorID) -> PoolAccount? { index[depositor].map { accounts[$0] } }

    /// Shares held (zero for a name never seen).
    public func shares(of depositor: DepositorID) -> Shares { account(depositor)?.shares ?? .zero }

    public var operatorShares: Shares { accounts[0].shares }

    /// Accounts holding shares.
    public var holders: Int { accounts.reduce(0) { $0 + ($1.shares.isPositive ? 1 : 0) } }

    /// The operator's fraction of all shares, exact (`nil` for an empty pool).
    public var operatorShare: Fraction? {
        totalShares.isPositive ? Fraction(Int128(operatorShares.raw), Int128(totalShares.raw)) : nil
    }

    /// True when shares exist and the operator holds less than the minimum fraction of them.
    public var operatorBelowMinimum: Bool {
        guard totalShares.isPositive else { return false }
        return Int128(operatorShares.raw) * Int128(Rate.scale) < Int128(minimumOperatorShare.raw) * Int128(totalShares.raw)
    }

    /// Shares the operator must add to reach the minimum share again (zero when it holds enough):
    /// the least `x` with `(o + x) ≥ m·(S + x)`, i.e. `x = ⌈(m·S − o) / (1 − m)⌉`.
    public var operatorShortfall: Shares {
        guard operatorBelowMinimum else { return .zero }
        let m = Int128(minimumOperatorShare.raw)
        let numerator = m * Int128(totalShares.raw) - Int128(operatorShares.raw) * Int128(Rate.scale)
        let needed = FixedMath.divide(numerator, Int128(Rate.scale) - m, .up)
        return Shares(raw: Int64(needed))
    }

    /// A depositor's claim: `⌊shares × NAV / totalShares⌋`. A wiped-out pool (`NAV = 0`) owes
    /// nothing; a negative NAV is refused.
    public func claim(_ depositor: DepositorID, nav: Notional) throws(PoolError) -> Notional {
        guard let position = index[depositor] else { throw .unknownDepositor(depositor) }
        guard !nav.isNegative else { throw .negativeNAV(nav) }
        return value(of: accounts[position].shares, nav: nav)
    }

    /// `⌊shares × NAV / totalShares⌋` (zero for an empty pool).
    public func value(of shares: Shares, nav: Notional) -> Notional {
        guard totalShares.isPositive else { return .zero }
        return Notional(raw: Int64(FixedMath.divide(Int128(shares.raw) * Int128(nav.raw), Int128(totalShares.raw), .down)))
    }

    /// Every account's claim, the dust left by rounding, and whether they add up.
    public func audit(nav: Notional) -> PoolAudit {
        var claims: [(DepositorID, Notional)] = []
        claims.reserveCapacity(accounts.count)
        var sum = Int64(0)
        for account in accounts {
            let claim = value(of: account.shares, nav: nav)
            claims.append((account.depositor, claim))
            sum += claim.raw
        }
        return PoolAudit(
            nav: nav, claims: claims, sumOfClaims: Notional(raw: sum), dust: Notional(raw: nav.raw - sum), holders: holders)
    }

    // MARK: Deposits

    /// Mints `⌊amount × totalShares / NAV⌋` shares (one per USDC into an empty pool, which also
    /// hands any residual NAV to that first depositor). `nav` is the NAV before the deposit.
    @discardableResult
    public mutating func deposit(_ depositor: DepositorID, amount: Notional, nav: Notional) throws(PoolError) -> PoolDepositReceipt {
        guard amount.isPositive else { throw .nonPositiveAmount("a deposit (got \(amount) USDC)") }
        let minted: Int128
        if totalShares.isZero {
            guard !nav.isNegative else { throw .negativeNAV(nav) }
            minted = Int128(amount.raw)
        } else {
            guard nav.isPositive else { throw .nonPositiveNAV(nav) }
            minted = FixedMath.divide(Int128(amount.raw) * Int128(totalShares.raw), Int128(nav.raw), .down)
        }
        guard minted > 0 else { throw .depositTooSmall(amount, nav: nav, totalShares: totalShares) }
        guard minted <= Int128(Int64.max - totalShares.raw) else { throw .outOfRange("the share count after this deposit") }
        let (navAfter, overflow) = nav.raw.addingReportingOverflow(amount.raw)
        guard !overflow else { throw .outOfRange("the NAV after this deposit") }
        let shares = Shares(raw: Int64(minted))
        let position = accountIndex(creating: depositor)
        accounts[position].shares += shares
        accounts[position].costBasis += amount
        accounts[position].deposited += amount
        totalShares += shares
        return PoolDepositReceipt(
            depositor: depositor, amount: amount, sharesMinted: shares, navBefore: nav, navAfter: Notional(raw: navAfter),
            totalSharesAfter: totalShares)
    }

    // MARK: Withdrawals

    /// Redeems shares at `nav` (the NAV before the withdrawal): the operator fee on the redeemed
    /// shares' profit moves to the operator as shares, the rest are burned and paid out, rounded
    /// down. The operator's own withdrawals pay no fee and must respect the minimum share.
    @discardableResult
    public mutating func withdraw(_ depositor: DepositorID, _ request: PoolRedemption, nav: Notional) throws(PoolError)
        -> PoolWithdrawalReceipt
    {
        guard let position = index[depositor] else { throw .unknownDepositor(depositor) }
        guard nav.isPositive else { throw .nonPositiveNAV(nav) }
        let held = accounts[position].shares
        let redeemed: Shares
        switch request {
        case .shares(let shares):
            guard shares.isPositive else { throw .nonPositiveAmount("the shares to redeem (got \(shares))") }
            guard shares <= held else { throw .insufficientShares(depositor, requested: shares, held: held) }
            redeemed = shares
        case .value(let amount):
            guard amount.isPositive else { throw .nonPositiveAmount("a withdrawal (got \(amount) USDC)") }
            let claim = value(of: held, nav: nav)
            guard amount <= claim else { throw .exceedsClaim(depositor, requested: amount, claim: claim) }
            // ⌈amount·S/NAV⌉ ≤ held because amount ≤ ⌊held·NAV/S⌋.
            redeemed = Shares(raw: Int64(FixedMath.divide(Int128(amount.raw) * Int128(totalShares.raw), Int128(nav.raw), .up)))
        case .all:
            guard held.isPositive else { throw .noShares(depositor) }
            redeemed = held
        }

        let isOperator = position == 0
        if isOperator {
            let maximum = operatorRedeemable
            guard redeemed <= maximum else {
                throw .operatorBelowMinimum(requested: redeemed, maximum: maximum, minimum: minimumOperatorShare)
            }
        }

        // Cost basis released with the redeemed shares, rounded up (all of it with the last share).
        let basis = accounts[position].costBasis
        let released = Notional(raw: Int64(FixedMath.divide(Int128(basis.raw) * Int128(redeemed.raw), Int128(held.raw), .up)))
        let feeShares = isOperator ? Shares.zero : self.feeShares(redeemed: redeemed, releasedBasis: released, nav: nav)
        let burned = redeemed - feeShares

        let gross = value(of: redeemed, nav: nav)
        let fee = value(of: feeShares, nav: nav)
        let payout = value(of: burned, nav: nav)

        accounts[position].shares -= redeemed
        accounts[position].costBasis -= released
        accounts[position].withdrawn += payout
        accounts[position].feesPaid += fee
        if feeShares.isPositive {
            accounts[0].shares += feeShares
            // The operator receives the shares at their value now: that is what it paid for them.
            accounts[0].costBasis += fee
            operatorFeesEarned += fee
        }
        totalShares -= burned
        return PoolWithdrawalReceipt(
            depositor: depositor, sharesRedeemed: redeemed, sharesBurned: burned, feeShares: feeShares, releasedBasis: released,
            grossValue: gross, fee: fee, payout: payout, navBefore: nav, navAfter: nav - payout, totalSharesAfter: totalShares)
    }

    /// The most shares the operator may redeem now: all of them when nobody else holds shares,
    /// else the largest `x` with `(o − x) ≥ m·(S − x)`, i.e. `x = ⌊(o − m·S) / (1 − m)⌋`.
    public var operatorRedeemable: Shares {
        let o = Int128(operatorShares.raw)
        if o == Int128(totalShares.raw) { return operatorShares }
        let m = Int128(minimumOperatorShare.raw)
        let numerator = o * Int128(Rate.scale) - m * Int128(totalShares.raw)
        guard numerator > 0 else { return .zero }
        return Shares(raw: Int64(FixedMath.divide(numerator, Int128(Rate.scale) - m, .down)))
    }

    /// `⌊feeRate × max(0, s − basis × S / NAV)⌋` shares: the fee on the profit of `s` redeemed
    /// shares, expressed in shares at the current price. Exact in `Int128` for every `Int64` input.
    func feeShares(redeemed: Shares, releasedBasis: Notional, nav: Notional) -> Shares {
        guard feeRate.isPositive else { return .zero }
        // Profit in shares t = (s·NAV − basis·S) / NAV; nothing when not positive.
        let numerator = Int128(redeemed.raw) * Int128(nav.raw) - Int128(releasedBasis.raw) * Int128(totalShares.raw)
        guard numerator > 0 else { return .zero }
        let n = Int128(nav.raw)
        let whole = numerator / n
        let remainder = numerator % n
        // ⌊f·(whole + remainder/n) / 10¹²⌋ without overflow: split f·whole by 10¹².
        let f = Int128(feeRate.raw)
        let scale = Int128(Rate.scale)
        let a = f * whole
        let high = a / scale
        let low = a % scale
        let fraction = (low * n + f * remainder) / (scale * n)
        return Shares(raw: Int64(high + fraction))
    }

    private mutating func accountIndex(creating depositor: DepositorID) -> Int {
        if let position = index[depositor] { return position }
        accounts.append(PoolAccount(depositor: depositor))
        index[depositor] = accounts.count - 1
        return accounts.count - 1
    }
}

/// A venue's pool checked against our share accounting (spec §2; `pool status`): the venue
/// reports the NAV, the total shares and the operator's; every claim is `⌊shares × NAV /
/// total⌋` as ``PoolLedger`` values them, so the claims never exceed the NAV and leave less
/// than one unit of dust per holder.
public struct VenuePoolAudit: Sendable, Equatable {
    public struct Holder: Sendable, Equatable {
        public var name: String
        public var shares: Int64
        public var claim: Notional
        public var fraction: Rate
    }

    public var nav: Notional
    public var totalShares: Int64
    /// NAV ÷ total shares, rounded down to the price unit.
    public var sharePrice: Price?
    public var holders: [Holder]
    public var sumOfClaims: Notional
    public var dust: Notional
    public var operatorFraction: Rate
    /// Problems found, one sentence each (empty: consistent).
    public var problems: [String]

    /// - Parameters:
    ///   - depositors: holdings read from depositors' accounts (`shares[]`), by name.
    ///   - minimumOperatorShare: the pool's minimum operator share as a fraction, when known.
    ///   - reportedSharePrice: the venue's last `share_prices` entry.
    public init(
        nav: Notional, totalShares: Int64, operatorShares: Int64, depositors: [(String, Int64)] = [],
        minimumOperatorShare: Rate? = nil, reportedSharePrice: Price? = nil
    ) {
        self.nav = nav
        self.totalShares = totalShares
        var problems: [String] = []
        func claim(_ shares: Int64) -> Notional {
            guard totalShares > 0, nav.isPositive else { return .zero }
            return Notional(raw: Int64(FixedMath.divide(Int128(shares) * Int128(nav.raw), Int128(totalShares), .down)))
        }
        func fraction(_ shares: Int64) -> Rate {
            guard totalShares > 0 else { return .zero }
            return Rate(raw: Int64(FixedMath.divide(Int128(shares) * Int128(Rate.scale), Int128(totalShares), .down)))
        }
        sharePrice =
            totalShares > 0 && !nav.isNegative
            ? Price(
                raw: Int64(FixedMath.divide(Int128(nav.raw) * Int128(Price.scale), Int128(totalShares) * Int128(Notional.scale), .down)))
            : nil
        var holders = [Holder(name: "operator", shares: operatorShares, claim: claim(operatorShares), fraction: fraction(operatorShares))]
        var listed = operatorShares
        for (name, shares) in depositors {
            holders.append(Holder(name: name, shares: shares, claim: claim(shares), fraction: fraction(shares)))
            listed += shares
        }
        if listed > totalShares {
            problems.append("the holdings read (\(listed) shares) exceed the pool's total of \(totalShares)")
        } else if listed < totalShares {
            let rest = totalShares - listed
            holders.append(Holder(name: "other depositors", shares: rest, claim: claim(rest), fraction: fraction(rest)))
        }
        self.holders = holders
        let sum = holders.reduce(Int128(0)) { $0 + Int128($1.claim.raw) }
        sumOfClaims = Notional(raw: Int64(clamping: sum))
        dust = nav - sumOfClaims
        operatorFraction = fraction(operatorShares)
        if dust.isNegative { problems.append("the claims (\(sumOfClaims)) exceed the NAV (\(nav))") }
        if Int128(dust.raw) >= Int128(holders.count) { problems.append("rounding dust \(dust) is more than one unit per holder") }
        if nav.isNegative { problems.append("the NAV is negative (\(nav))") }
        if totalShares == 0 && nav.isPositive { problems.append("the pool holds \(nav) USDC and no shares") }
        if let minimumOperatorShare, operatorFraction < minimumOperatorShare, totalShares > operatorShares {
            problems.append(
                "the operator holds \(operatorFraction.formatted(places: 4, rule: .down)) of the shares, below the minimum \(minimumOperatorShare): top up, or the venue refuses its withdrawals"
            )
        }
        if let reported = reportedSharePrice, let sharePrice, reported.isPositive {
            // The venue's share price series is sampled (daily); a large gap is worth a look, not an error.
            let gap = abs((Fraction(sharePrice) - Fraction(reported)).doubleValue / reported.doubleValue)
            if gap > 0.05 {
                problems.append(
                    "NAV ÷ shares (\(sharePrice)) differs from the venue's last share price (\(reported)) by \(Int((gap * 100).rounded())) %"
                )
            }
        }
        self.problems = problems
    }
}
