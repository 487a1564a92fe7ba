import PerpModel
import Testing

@testable import PerpSignals

@Suite("Sentiment lexicon")
struct SentimentTests {
    @Test(
        arguments: [
            ("NMR payouts are great this round", 1.0),
            ("Another burn, worst drawdown yet", -1.0),
            ("Great model but a big burn", 0.0),
            ("The round is not good", -1.0),
            ("This isn't a bad round at all", 1.0),
            ("Round 900 opens on Saturday", nil),
            ("", nil),
            ("GREAT!!! gains... burn?", 1.0 / 3.0),
        ] as [(String, Double?)])
    func scoresAreCountsOfItsWords(text: String, expected: Double?) {
        #expect(SentimentLexicon.score(text) == expected, "\(text)")
    }

    @Test func aNegatorReachesThreeWordsAndNoFurther() {
        #expect(SentimentLexicon.score("not really that very good") == 1.0, "four words on: not flipped")
        #expect(SentimentLexicon.score("not that very good") == -1.0)
    }

    @Test func wordsAreCutAtPunctuationAndApostrophes() {
        #expect(SentimentLexicon.words("Don't sell—HODL! 3x") == ["do", "not", "sell", "hodl", "3x"])
    }

    @Test func periodsAreStampedAtTheirEndWeightedByLikesAndClipped() {
        let day: Int64 = 86_400_000
        let start: Int64 = 1_735_689_600_000  // 2025-01-01
        let texts = [
            SentimentLexicon.Text(time: start + 1000, text: "great payouts", likes: 3),
            SentimentLexicon.Text(time: start + 2000, text: "a burn", likes: 0),
            SentimentLexicon.Text(time: start + 3000, text: "the schedule", likes: 50),  // no scored word: left out
            SentimentLexicon.Text(time: start + day + 5, text: "bad", likes: 0),
            SentimentLexicon.Text(time: start + 2 * day + 5, text: "good", likes: 0),  // its day has not ended
        ]
        let rows = SentimentLexicon.periods(texts, period: .days(1), until: start + 2 * day + 10)
        #expect(rows.count == 2)
        #expect(rows[0].time == start + day && rows[0].texts == 2)
        #expect(abs(rows[0].value - (1.0 * 4 - 1.0) / 5) < 1e-12)
        #expect(rows[1].time == start + 2 * day && rows[1].value == -1)
    }

    @Test func hostileTextNeverTraps() {
        let long = String(repeating: "not good ", count: 20_000)
        #expect(SentimentLexicon.score(long) == -1)
        #expect(SentimentLexicon.score("\u{0}\u{FFFD}🚀🚀") == nil)
        let rows = SentimentLexicon.periods(
            [SentimentLexicon.Text(time: Int64.max - 1, text: "good", likes: Int.max), .init(time: Int64.min, text: "bad", likes: -5)],
            period: .days(1), until: Int64.max)
        #expect(rows.isEmpty, "periods past either end of time are left out: \(rows)")
    }
}
