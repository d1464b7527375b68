namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>A test that only PostgreSQL can run; reported as skipped, not passed, on SQLite.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute(string whyPostgresOnly)
    {
        if (TestDatabase.ConfiguredProvider != "postgres")
        {
            Skip = $"PostgreSQL only: {whyPostgresOnly}";
        }
    }
}
