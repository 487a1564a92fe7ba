/// A dated event on NMR's calendar (issue 16; seed 001: "NMR-specific news events … calendar
/// your awareness"): a Numerai round's opening, close, scoring or resolution (from the
/// tournament API's `rounds` schedule, `nmrperp signals collect`), or a date the user adds
/// (`nmrperp signals event`). The bot's configuration names the kinds it stays out of the
/// market around (``BotConfig/Calendar``).
public struct CalendarEvent: Sendable, Hashable {
    /// When the event happens.
    public var time: Timestamp
    /// A lowercase word (`round_close`, `round_resolve`, `news`): see ``isValidKind(_:)``.
    public var kind: String
    /// Free text for people (the round's number, the headline); never read by the bot.
    public var note: String

    public init(time: Timestamp, kind: String, note: String = "") {
        self.time = time
        self.kind = kind
        self.note = note
    }

    /// The kinds the collector writes from Numerai's round schedule (`rounds(tournament:)`
    /// fields `openTime`, `closeStakingTime`, `closeTime`, `scoreTime`, `resolveTime`).
    public static let roundKinds = ["round_open", "staking_close", "round_close", "scoring_start", "round_resolve"]

    /// The longest kind.
    public static let maximumKindLength = 40

    /// A kind is 1–40 characters of `a`–`z`, `0`–`9` and `_`, starting with a letter.
    public static func isValidKind(_ kind: String) -> Bool {
        guard let first = kind.unicodeScalars.first, kind.unicodeScalars.count <= maximumKindLength,
            ("a"..."z").contains(first)
        else { return false }
        return kind.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}
