/// Text from outside (a venue's body or reject message, another system's order id) made safe for
/// a log or journal line: printable ASCII only (anything else `?`), whitespace runs as one space,
/// trimmed, at most `limit` characters (then `…`), and any run of 24 or more letters, digits,
/// `+`, `/`, `_` or `-` (a key, a signature, a token) as `<redacted>`.
public enum SafeText {
    public static func excerpt<Bytes: Sequence>(_ bytes: Bytes, limit: Int = 80) -> String where Bytes.Element == UInt8 {
        var text = ""
        var lastSpace = false
        for byte in bytes.prefix(max(0, limit) * 4) {
            let isSpace = byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
            if isSpace {
                if !lastSpace && !text.isEmpty { text.append(" ") }
                lastSpace = true
                continue
            }
            lastSpace = false
            text.append((0x21...0x7E).contains(byte) ? Character(UnicodeScalar(byte)) : "?")
        }
        var redacted = ""
        var run = ""
        func flush() {
            redacted += run.count >= 24 ? "<redacted>" : run
            run = ""
        }
        for character in text {
            if character.isASCII && (character.isLetter || character.isNumber || "+/_-".contains(character)) {
                run.append(character)
            } else {
                flush()
                redacted.append(character)
            }
        }
        flush()
        while redacted.last == " " { redacted.removeLast() }
        return redacted.count > limit ? String(redacted.prefix(max(0, limit))) + "…" : redacted
    }
}
