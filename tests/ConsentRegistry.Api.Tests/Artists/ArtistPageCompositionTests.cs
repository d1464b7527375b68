using ConsentRegistry.Api.Artists;

namespace ConsentRegistry.Api.Tests.Artists;

/// <summary>How a page file is put into the layout, and the messages when one of them is wrong.</summary>
public sealed class ArtistPageCompositionTests
{
    private const string Layout = """
        <title>{{title}} · Registry</title>
          {{scripts}}
        <nav>
          <a href="/"{{current:/}}>Home</a>
          <a href="/key"{{current:/key}}>Key</a>
        </nav>
        <main>
            {{content}}
        </main>

        """;

    [Fact]
    public void The_page_fills_the_title_marks_its_own_link_adds_its_scripts_and_is_indented_inside_main()
    {
        var html = ArtistPageLayout.Compose(Layout, "<!--\n  title: Keys & backups\n  nav: /key\n  script: /assets/a.js\n  script: /assets/b.js\n-->\n<h1>Key</h1>\n\n<p>x</p>\n", "key.html");

        Assert.Equal("""
            <title>Keys &amp; backups · Registry</title>
              <script type="module" src="/assets/a.js"></script>
              <script type="module" src="/assets/b.js"></script>
            <nav>
              <a href="/">Home</a>
              <a href="/key" aria-current="page">Key</a>
            </nav>
            <main>
                <h1>Key</h1>

                <p>x</p>
            </main>

            """, html);
    }

    [Fact]
    public void A_page_without_scripts_leaves_no_empty_line_and_its_text_is_never_read_as_a_placeholder()
    {
        var html = ArtistPageLayout.Compose(Layout, "<!--\r\n title: Home\r\n nav: /\r\n-->\r\n<p>{{title}} {{current:/key}} {{nope}}</p>\r\n", "index.html");

        Assert.StartsWith("<title>Home · Registry</title>\n<nav>\n  <a href=\"/\" aria-current=\"page\">Home</a>\n  <a href=\"/key\">Key</a>", html);
        Assert.Contains("    <p>{{title}} {{current:/key}} {{nope}}</p>\n</main>", html);
    }

    [Theory]
    [InlineData("<h1>No metadata</h1>", "must start with a metadata comment")]
    [InlineData("<!--\n  title: A\n  nav: /\n<h1>A</h1>", "not closed by a line \"-->\"")]
    [InlineData("<!--\n  nav: /\n-->\n<h1>A</h1>", "needs exactly one \"title:\" line, not 0")]
    [InlineData("<!--\n  title: A\n  title: B\n  nav: /\n-->\n", "needs exactly one \"title:\" line, not 2")]
    [InlineData("<!--\n  title: A\n  nav: /keys\n-->\n", "\"nav: /keys\" names no link of the layout's navigation (no {{current:/keys}} there)")]
    [InlineData("<!--\n  title: A\n  nav: /\n  style: x.css\n-->\n", "metadata line \"style: x.css\" is not")]
    public void A_wrong_page_file_stops_with_a_message_naming_the_file_and_what_to_fix(string page, string message)
    {
        var error = Assert.Throws<InvalidOperationException>(() => ArtistPageLayout.Compose(Layout, page, "broken.html"));

        Assert.StartsWith("The artist page broken.html cannot be put into wwwroot/artists/_layout.html: ", error.Message);
        Assert.Contains(message, error.Message);
    }

    [Theory]
    [InlineData("<title>{{title}}</title>\n{{scripts}}\n{{content}}\n{{footer}}\n", "a placeholder it does not know, {{footer}}")]
    [InlineData("<title>{{title}}</title>\n{{scripts}}\n", "the layout has no {{content}}")]
    [InlineData("<title>{{title}}</title>\n{{scripts}}\n<main>{{content}}</main>\n", "{{content}} must stand alone on its line")]
    [InlineData("<title>{{title}}</title>\n{{scripts}}\n{{content}}\n{{content}}\n", "holds {{content}} more than once")]
    [InlineData("<title>{{title</title>\n", "without its closing }}")]
    public void A_wrong_layout_stops_with_a_message_saying_what_is_wrong(string layout, string message)
    {
        var error = Assert.Throws<InvalidOperationException>(() => ArtistPageLayout.Compose(layout, "<!--\ntitle: A\nnav: /\n-->\n<p>a</p>", "index.html"));

        Assert.Contains(message, error.Message);
    }
}
