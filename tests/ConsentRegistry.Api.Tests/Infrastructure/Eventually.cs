namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>Polls a condition that a background part of the service makes true, failing after 30 s.</summary>
public static class Eventually
{
    public static async Task HoldsAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Not within 30 s: {what}");
            await Task.Delay(20);
        }
    }

    public static Task HoldsAsync(Func<bool> condition, string what) => HoldsAsync(() => Task.FromResult(condition()), what);
}
