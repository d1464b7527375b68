namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>
/// Tests of a promise bounded in wall-clock time (a replica sees a change within a second) run after the other
/// tests of this assembly, none beside them: on the 2-core CI machine those tests hold the thread pool and the cores
/// the service's timers need, and the bound would then measure the test host rather than the service.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimedBoundsCollection
{
    public const string Name = "Timed bounds";
}
