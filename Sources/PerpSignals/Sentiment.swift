import PerpModel

/// Our own sentiment score for short texts (forum topics, posts titles): a hand-written lexicon
/// with negation, deterministic and testable, not a black box (issue 16; spec §4 "social
/// sentiment 25 %"; docs/decisions/0020-signal-collectors.md).
///
/// Method, all of it:
/// 1. The text is lower-cased; `n't` becomes ` not`; it is cut into words at every character
///    that is not a letter or a digit.
/// 2. Each word found in ``positive`` counts +1, in ``negative`` −1. A negator (``negators``)
///    flips the sign of the next scored word if it comes within three words.
/// 3. The text's score is `(positives − negatives) ÷ (positives + negatives)`, in −1…1; a text
///    with no scored word has no score (it is left out, not counted as neutral).
/// 4. A period's sentiment is the mean of its texts' scores weighted by `1 + likes` (a liked
///    post speaks for more readers), clipped to −1…1; a period with no scored text has none.
public enum SentimentLexicon {
    /// Words that lean bullish or pleased, including Numerai's own (payouts, rewards).
    public static let positive: Set<String> = [
        "bull", "bullish", "gain", "gains", "gained", "rally", "rallies", "surge", "surged", "soar", "soared", "moon", "growth",
        "grow", "growing", "strong", "stronger", "great", "good", "excellent", "improve", "improved", "improvement", "improvements",
        "profit", "profits", "profitable", "win", "wins", "winning", "success", "successful", "love", "amazing", "awesome",
        "positive", "breakthrough", "launch", "launched", "upgrade", "excited", "exciting", "opportunity", "optimistic",
        "thanks", "thank", "helpful", "best", "better", "outperform", "outperformed", "outperforming", "boost", "rise", "rising",
        "recover", "recovered", "recovery", "earn", "earned", "earning", "reward", "rewards", "payout", "payouts", "congrats",
        "congratulations", "welcome", "impressive", "record", "accumulate", "buy", "buying", "undervalued", "happy", "nice",
    ]

    /// Words that lean bearish or unhappy, including Numerai's own (burns: a stake lost to a bad
    /// round).
    public static let negative: Set<String> = [
        "bear", "bearish", "loss", "losses", "lose", "losing", "lost", "crash", "crashed", "dump", "dumped", "dumping", "drop",
        "dropped", "decline", "declined", "falling", "fall", "fell", "weak", "weaker", "bad", "poor", "worse", "worst", "fail",
        "failed", "failing", "failure", "bug", "bugs", "broken", "problem", "problems", "scam", "hack", "hacked", "exploit",
        "risky", "concern", "concerns", "concerned", "worried", "worry", "fear", "panic", "sell", "selling", "selloff", "negative",
        "burn", "burns", "burned", "burnt", "drawdown", "delay", "delayed", "outage", "liquidated", "liquidation", "disappointed",
        "disappointing", "frustrated", "frustrating", "confusing", "unfair", "overvalued", "down", "error", "errors", "wrong",
        "sad", "angry", "terrible", "awful", "penalty", "penalized", "decrease", "decreased", "unstable",
    ]

    /// Words that flip the sign of the next scored word within three words.
    public static let negators: Set<String> = ["not", "no", "never", "without", "hardly", "nor", "neither"]

    /// The words of `text` (step 1).
    public static func words(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        let lowered = text.lowercased().replacing("n't", with: " not").replacing("n’t", with: " not")
        for character in lowered {
            if character.isLetter || character.isNumber {
                current.append(character)
            } else if !current.isEmpty {
                result.append(current)
                current = ""
            }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// The score of one text in −1…1, `nil` when no word of it is scored (steps 2–3).
    public static func score(_ text: String) -> Double? {
        var positives = 0
        var negatives = 0
        var negateWithin = 0
        for word in words(text) {
            if negators.contains(word) {
                negateWithin = 3
                continue
            }
            var sign = positive.contains(word) ? 1 : negative.contains(word) ? -1 : 0
            if sign != 0 {
                if negateWithin > 0 { sign = -sign }
                if sign > 0 { positives += 1 } else { negatives += 1 }
                negateWithin = 0
            } else if negateWithin > 0 {
                negateWithin -= 1
            }
        }
        let total = positives + negatives
        return total == 0 ? nil : Double(positives - negatives) / Double(total)
    }

    /// One scored text: its time, the text, and how many readers liked it.
    public struct Text: Sendable, Equatable {
        public var time: Int64
        public var text: String
        public var likes: Int
        public init(time: Int64, text: String, likes: Int = 0) {
            self.time = time
            self.text = text
            self.likes = likes
        }
    }

    /// A period's sentiment (step 4): rows at the end of each `period` (epoch-aligned) in which
    /// a scored text was published, so a reader at time `t` never sees a text published after
    /// `t`; only periods that end at or before `until` (complete ones) are returned.
    public static func periods(_ texts: [Text], period: TimeSpan, until: Int64) -> [(time: Int64, value: Double, texts: Int)] {
        let length = max(period.milliseconds, 1)
        var sums: [Int64: (weighted: Double, weights: Double, count: Int)] = [:]
        for text in texts {
            guard let score = score(text.text) else { continue }
            let (start, under) = text.time.subtractingReportingOverflow(((text.time % length) + length) % length)
            let (end, over) = start.addingReportingOverflow(length)
            guard !under, !over, end <= until else { continue }
            let weight = 1 + Double(min(max(text.likes, 0), 1_000_000))
            var entry = sums[end] ?? (0, 0, 0)
            entry.weighted += score * weight
            entry.weights += weight
            entry.count += 1
            sums[end] = entry
        }
        return sums.sorted { $0.key < $1.key }.map { end, entry in
            (end, min(1, max(-1, entry.weighted / entry.weights)), entry.count)
        }
    }
}
