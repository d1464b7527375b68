namespace ConsentRegistry.Core.Policy;

/// <summary>
/// The user-agent product tokens of crawlers that collect content for AI training, which the
/// robots.txt group of <see cref="RobotsTxt"/> names. One list, kept here as data: add a token
/// with its source when an operator publishes one. Compiled on 2026-11-26 from each operator's
/// own crawler documentation, listed beside each token; re-check them when adding to the list.
/// </summary>
public static class AiCrawlers
{
    public static IReadOnlyList<AiCrawler> All { get; } =
    [
        new("GPTBot", "OpenAI", "https://platform.openai.com/docs/bots"),
        new("ClaudeBot", "Anthropic", "https://support.anthropic.com/en/articles/8896518"),
        new("anthropic-ai", "Anthropic (older token)", "https://support.anthropic.com/en/articles/8896518"),
        new("CCBot", "Common Crawl", "https://commoncrawl.org/ccbot"),
        new("Google-Extended", "Google (Gemini training; not a separate crawler)", "https://developers.google.com/search/docs/crawling-indexing/google-common-crawlers"),
        new("Applebot-Extended", "Apple (training; not a separate crawler)", "https://support.apple.com/en-us/119829"),
        new("meta-externalagent", "Meta", "https://developers.facebook.com/docs/sharing/webmasters/web-crawlers"),
        new("Bytespider", "ByteDance", "https://bytedance.com (no crawler page; token as seen in its requests)"),

        // Perplexity's page says PerplexityBot surfaces and links websites in Perplexity's search
        // results and is not used to crawl content for AI foundation models. It stays in this group
        // all the same: its answers are AI output built from the pages it fetches.
        new("PerplexityBot", "Perplexity (answer-engine search; says it does not train models)", "https://docs.perplexity.ai/guides/bots"),

        new("cohere-ai", "Cohere", "https://cohere.com (token as seen in its requests)"),
        new("Amazonbot", "Amazon", "https://developer.amazon.com/amazonbot"),

        // RFC 9309's identifier grammar has no digits; parsers accept this token all the same.
        new("img2dataset", "img2dataset (LAION-style dataset downloads)", "https://github.com/rom1504/img2dataset"),
    ];
}

/// <summary>One crawler: its robots.txt token, who runs it, and where they say so.</summary>
public sealed record AiCrawler(string Token, string Operator, string Source);
