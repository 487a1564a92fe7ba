import Foundation
import PerpModel
import PerpSignals

/// The Numerai forum (forum.numer.ai, a Discourse site): its public topic list as JSON, no key
/// (Discourse API, `GET /latest.json?order=created&page=N`: `topic_list.topics[]` with `id`,
/// `title`, `created_at`, `like_count`; newest first, 30 a page). The titles are the sentiment
/// collector's texts (issue 16; ``SentimentLexicon``).
public struct ForumClient: Sendable {
    public static let numerai = URL(string: "https://forum.numer.ai")!

    let http: VenueHTTPClient
    let baseURL: URL

    /// Discourse limits anonymous readers to about 200 requests a minute per IP by default; one
    /// page a second stays far below it.
    public init(
        baseURL: URL = ForumClient.numerai, transport: any HTTPTransport = URLSessionTransport(), minimumSpacing: Duration = .seconds(1)
    ) {
        self.baseURL = baseURL
        self.http = VenueHTTPClient(venue: "forum", transport: transport, minimumSpacing: minimumSpacing)
    }

    /// One page of topics, newest created first.
    public func topics(page: Int) async throws -> [SentimentLexicon.Text] {
        let url = baseURL.appending(path: "latest.json", query: [("order", "created"), ("ascending", "false"), ("page", String(page))])
        return try Self.parseTopics(try await http.getJSON(url))
    }

    /// Topics created at or after `since`, paging back until one older appears or `maxPages`
    /// pages were read. `progress(pages, oldest)` after each page.
    public func topics(since: Int64, maxPages: Int = 200, progress: (Int, Int64?) -> Void = { _, _ in }) async throws -> [SentimentLexicon
        .Text]
    {
        var result: [SentimentLexicon.Text] = []
        var seen: Set<String> = []
        for page in 0..<max(1, maxPages) {
            let topics = try await self.topics(page: page)
            for topic in topics where topic.time >= since && seen.insert("\(topic.time)|\(topic.text)").inserted {
                result.append(topic)
            }
            let oldest = topics.map(\.time).min()
            progress(page + 1, oldest)
            guard let oldest, oldest >= since else { break }
        }
        return result.sorted { $0.time < $1.time }
    }

    /// Reads `topic_list.topics`; a topic without a title or a valid `created_at` is skipped, an
    /// answer without a topic list is refused.
    public static func parseTopics(_ json: JSONValue) throws -> [SentimentLexicon.Text] {
        guard let topics = json["topic_list"]?["topics"]?.arrayValue else {
            throw VenueError(
                kind: .retryable(retryAfterSeconds: nil), endpoint: "forum /latest.json", message: "the answer has no topic_list.topics")
        }
        return topics.compactMap { topic in
            guard let title = topic["title"]?.stringValue, let created = topic["created_at"]?.stringValue,
                let time = Timestamp(parsing: created)?.milliseconds
            else { return nil }
            if topic["pinned"] == .bool(true) { return nil }  // a pinned notice is not today's mood
            let likes = topic["like_count"]?.int64Value.map { Int(clamping: max(0, $0)) } ?? 0
            return SentimentLexicon.Text(time: time, text: String(title.prefix(500)), likes: likes)
        }
    }
}
