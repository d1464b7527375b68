using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Api.Verification;

/// <summary>
/// Which claims a party's verified hosts vouch for (docs/decisions/0006): a claim qualifies when
/// it has at least one host-bound subject (url, url-prefix, host), every one of them lies on a
/// host the party has verified, and it has no subject of any other kind (sha256, pdq, embedding,
/// or any added later). A hash or vector names an image wherever it is copied, not a host, so no
/// host can vouch for it: otherwise anyone who verified a throwaway domain could make a consent
/// count for the hash of another artist's image. Conservative on purpose: a subdomain is not its
/// parent, a host subject with include_subdomains claims hosts nobody proved, and a URL with an
/// explicit port may be another server than the one that published the file.
/// </summary>
public static class DomainScope
{
    public static bool Qualifies(IReadOnlyList<Subject> subjects, HashSet<string> verifiedHosts)
    {
        var hosts = verifiedHosts.GetAlternateLookup<ReadOnlySpan<char>>();
        var hostBound = 0;
        foreach (var subject in subjects)
        {
            switch (subject.Kind)
            {
                case SubjectKinds.Url or SubjectKinds.UrlPrefix:
                    if (!UrlCanonicalizer.TryCanonicalize(subject.Value, out var url, out _)
                        || url.HostStart + url.HostLength != url.PathStart
                        || !hosts.Contains(url.Host))
                    {
                        return false;
                    }

                    hostBound++;
                    break;
                case SubjectKinds.Host:
                    if (subject.IncludeSubdomains || !verifiedHosts.Contains(subject.Value))
                    {
                        return false;
                    }

                    hostBound++;
                    break;
                default:
                    return false; // sha256, pdq, embedding, any other kind: a consent for an image needs an operator's review
            }
        }

        return hostBound > 0;
    }
}
