import PerpModel

/// The client order ids the execution layer gives its orders: `np-<tag>-<sequence><letter>`
/// (decision 0012, §1).
///
/// - `tag`: 8 characters of `[a-z0-9]`, a hash of the session's name **and** its creation time,
///   so a new session that reuses a name never adopts an old session's order with the same
///   sequence.
/// - `sequence`: the session's intent counter in decimal (1, 2, 3…).
/// - `letter`: the order's purpose (`e` entry, `s` stop, `t` target, `x` time exit,
///   `c` circuit breaker, `k` kill switch, `h` the stake hedge's resize).
///
/// The id is a pure function of the session and the sequence, so a resend after a crash is the
/// same order (reliability-anchors.md §1.1, "synthetic ids are deterministic functions of the
/// logical event"). Binance USD-M accepts `newClientOrderId` / `clientAlgoId` matching
/// `^[\.A-Z\:/a-z0-9_-]{1,36}$` (Binance USD-M "New Order (TRADE)"); ours are at most 32
/// characters of that alphabet.
public enum ClientOrderID {
    /// The longest id ``make(tag:sequence:purpose:)`` returns: `np-` (3) + tag (8) + `-` (1) +
    /// 19 digits (`Int64.max`) + the letter (1).
    public static let maximumLength = 32

    /// The session's tag: FNV-1a 64 (Fowler–Noll–Vo, offset basis 0xcbf29ce484222325, prime
    /// 0x100000001b3) over the name's UTF-8 bytes, a 0 byte, and the creation time's
    /// milliseconds as 8 little-endian bytes; the hash modulo 36⁸ written as 8 base-36 digits
    /// (`0-9a-z`, most significant first, zero padded).
    public static func tag(session: String, createdAt: Timestamp) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        for byte in session.utf8 { mix(byte) }
        mix(0)
        let milliseconds = UInt64(bitPattern: createdAt.milliseconds)
        for shift in stride(from: 0, to: 64, by: 8) { mix(UInt8(truncatingIfNeeded: milliseconds >> UInt64(shift))) }
        return base36(hash)
    }

    /// `np-<tag>-<sequence><letter>`. Never traps and never exceeds ``maximumLength``: a `tag`
    /// that is not 8 characters of `[a-z0-9]` is replaced by its own hash
    /// (``tag(session:createdAt:)`` of it at time 0), and a negative `sequence` (the engine's
    /// are 1, 2, 3…) is written as 0.
    public static func make(tag: String, sequence: Int64, purpose: OrderPurpose) -> String {
        let safeTag = isTag(tag) ? tag : self.tag(session: tag, createdAt: Timestamp(milliseconds: 0))
        return "np-\(safeTag)-\(max(sequence, 0))\(letter(purpose))"
    }

    /// The tag, sequence and purpose of one of our ids, or `nil` for anything else (another
    /// system's id, a liquidation's `autoclose-…`, hostile text). Reads bytes only: never traps.
    public static func parse(_ id: String) -> (tag: String, sequence: Int64, purpose: OrderPurpose)? {
        let bytes = Array(id.utf8.prefix(maximumLength + 1))
        // np- + 8 + - + at least one digit + letter
        guard bytes.count <= maximumLength, bytes.count >= 14 else { return nil }
        guard bytes[0] == UInt8(ascii: "n"), bytes[1] == UInt8(ascii: "p"), bytes[2] == UInt8(ascii: "-"),
            bytes[11] == UInt8(ascii: "-")
        else { return nil }
        let tagBytes = bytes[3..<11]
        guard tagBytes.allSatisfy(isTagByte) else { return nil }
        guard let purpose = purpose(letter: bytes[bytes.count - 1]) else { return nil }
        let digits = bytes[12..<(bytes.count - 1)]
        guard !digits.isEmpty, digits.count <= 19, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        // Canonical form only: no leading zeros (so one order has one id).
        if digits.count > 1, digits.first == UInt8(ascii: "0") { return nil }
        var sequence: Int64 = 0
        for digit in digits {
            let (times10, overflow1) = sequence.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = times10.addingReportingOverflow(Int64(digit - 48))
            if overflow1 || overflow2 { return nil }
            sequence = next
        }
        return (String(decoding: tagBytes, as: UTF8.self), sequence, purpose)
    }

    /// The letter that ends an id for `purpose`.
    public static func letter(_ purpose: OrderPurpose) -> Character {
        switch purpose {
        case .entry: return "e"
        case .stop: return "s"
        case .target: return "t"
        case .timeExit: return "x"
        case .circuitBreaker: return "c"
        case .killSwitch: return "k"
        case .hedge: return "h"
        }
    }

    /// Whether `text` is a tag: exactly 8 characters of `[a-z0-9]`.
    public static func isTag(_ text: String) -> Bool {
        let bytes = Array(text.utf8.prefix(9))
        return bytes.count == 8 && bytes.allSatisfy(isTagByte)
    }

    private static func isTagByte(_ byte: UInt8) -> Bool { (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 122) }

    private static func purpose(letter: UInt8) -> OrderPurpose? {
        switch letter {
        case UInt8(ascii: "e"): return .entry
        case UInt8(ascii: "s"): return .stop
        case UInt8(ascii: "t"): return .target
        case UInt8(ascii: "x"): return .timeExit
        case UInt8(ascii: "c"): return .circuitBreaker
        case UInt8(ascii: "k"): return .killSwitch
        case UInt8(ascii: "h"): return .hedge
        default: return nil
        }
    }

    private static func base36(_ hash: UInt64) -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)
        var value = hash % 2_821_109_907_456  // 36⁸
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: 8)
        for index in stride(from: 7, through: 0, by: -1) {
            digits[index] = alphabet[Int(value % 36)]
            value /= 36
        }
        return String(decoding: digits, as: UTF8.self)
    }
}
