import PerpModel

/// Errors for inputs that no margin formula can accept.
public enum MechanicsError: Error, Equatable, CustomStringConvertible {
    case nonPositive(String)
    case fractionOutOfRange(String, Rate)
    case emptyBrackets

    public var description: String {
        switch self {
        case .nonPositive(let what): return "\(what) must be greater than zero"
        case .fractionOutOfRange(let what, let value): return "\(what) must be between 0 and 1 (exclusive), got \(value)"
        case .emptyBrackets: return "a bracket schedule needs at least one bracket"
        }
    }
}

/// Initial and maintenance margin (spec §3; Lighter `orderBookDetails` margin fractions;
/// Binance USD-M "Leverage and Margin of USDⓈ-M Futures": maintenance = notional × rate − cum).
public enum Margin {
    /// The bracket that applies to a position of `notional` (absolute): the last bracket whose
    /// floor is at or below it; the top bracket beyond the last cap.
    public static func bracket(for notional: Notional, in brackets: [MarginBracket]) -> MarginBracket {
        precondition(!brackets.isEmpty, "empty bracket schedule")
        let value = notional.magnitude
        var chosen = brackets[0]
        for bracket in brackets where bracket.notionalFloor <= value { chosen = bracket }
        return chosen
    }

    /// Maintenance rate and amount for a position of `notional`.
    public static func maintenanceTerms(notional: Notional, schedule: MarginSchedule) -> (rate: Rate, amount: Notional) {
        switch schedule {
        case .fractions(_, let maintenance):
            return (maintenance, .zero)
        case .brackets(let brackets):
            let bracket = bracket(for: notional, in: brackets)
            return (bracket.maintenanceRate, bracket.maintenanceAmount)
        }
    }

    /// Maintenance margin: `|notional| × rate − amount`, rounded up (the venue's requirement is
    /// never understated).
    public static func maintenance(notional: Notional, schedule: MarginSchedule) -> Notional {
        let (rate, amount) = maintenanceTerms(notional: notional, schedule: schedule)
        let requirement = notional.magnitude.times(rate, rule: .up) - amount
        return requirement.isNegative ? .zero : requirement
    }

    /// Initial margin: `|notional| / leverage` when a leverage is chosen, else the schedule's
    /// initial fraction (Lighter's minimum initial fraction, or Binance's `1 / initialLeverage`
    /// of the bracket). Rounded up.
    public static func initial(notional: Notional, schedule: MarginSchedule, leverage: Int? = nil) -> Notional {
        if let leverage {
            precondition(leverage > 0, "leverage must be positive")
            return Notional(raw: Int64(FixedMath.divide(Int128(notional.magnitude.raw), Int128(leverage), .up)))
        }
        switch schedule {
        case .fractions(let initial, _):
            return notional.magnitude.times(initial, rule: .up)
        case .brackets(let brackets):
            return notional.magnitude.times(bracket(for: notional, in: brackets).initialRate, rule: .up)
        }
    }

    /// The highest leverage a schedule allows for `notional`.
    public static func maxLeverage(notional: Notional, schedule: MarginSchedule) -> Rate {
        switch schedule {
        case .fractions(let initial, _):
            return Rate.one.ratio(to: initial, rule: .down)
        case .brackets(let brackets):
            return Rate(bracket(for: notional, in: brackets).maxLeverage)
        }
    }
}
