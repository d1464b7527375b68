namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>A test that only one engine can run; reported as skipped, not passed, on the other.</summary>
public abstract class EngineFactAttribute : FactAttribute
{
    protected EngineFactAttribute(string provider, string engine, string why)
    {
        if (TestDatabase.ConfiguredProvider != provider)
        {
            Skip = $"{engine} only: {why}";
        }
    }
}

/// <summary>A test that only PostgreSQL can run; reported as skipped, not passed, on SQLite.</summary>
public sealed class PostgresFactAttribute(string whyPostgresOnly) : EngineFactAttribute("postgres", "PostgreSQL", whyPostgresOnly);

/// <summary>A test that only SQLite can run; reported as skipped, not passed, on PostgreSQL.</summary>
public sealed class SqliteFactAttribute(string whySqliteOnly) : EngineFactAttribute("sqlite", "SQLite", whySqliteOnly);
