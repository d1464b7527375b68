using System.Net;
using System.Net.Sockets;
using System.Text;
using ConsentRegistry.Api.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Imaging;
using Microsoft.Extensions.DependencyInjection;

namespace ConsentRegistry.Api.Tests.Images;

/// <summary>
/// The memory that uploads may hold (<see cref="ImageHashingGate.UploadBudgetBytes"/>) is taken as
/// the bytes arrive, not as Content-Length announces them: slow clients cannot hold it from others.
/// </summary>
public sealed class SlowUploadTests
{
    [Fact]
    public async Task Clients_announcing_large_uploads_and_sending_a_trickle_leave_room_for_other_uploads()
    {
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Lookup:RequestsPerSecondPerAddress"] = "100000" });
        using var client = app.CreateClient();
        var server = app.ClientOptions.BaseAddress;
        var slow = new List<TcpClient>();
        try
        {
            // Eleven announced uploads of 46.5 MiB each: the whole 512 MiB budget, had each been taken whole.
            const int clients = 11;
            const long announced = ImageHashingGate.UploadBudgetBytes / clients;
            for (var i = 0; i < clients; i++)
            {
                var socket = new TcpClient();
                await socket.ConnectAsync(server.Host, server.Port);
                var head = $"POST /v1/images HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                    + $"Content-Length: {announced}\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n";
                await socket.GetStream().WriteAsync(Encoding.ASCII.GetBytes(head + new string('x', 4096)));
                slow.Add(socket);
            }

            // Each has reached the endpoint and holds its share: a step for its first bytes, or, taken whole, its announcement.
            var gate = app.Services.GetRequiredService<ImageHashingGate>();
            await Eventually.HoldsAsync(() => gate.UploadBytesReserved >= clients * UploadReservation.Step, "the slow uploads hold their shares");

            var answer = await client.HashImageAsync(TestImages.ReadPdqData("generated/shapes-a.png"));

            Assert.Equal(64, answer.GetProperty("pdq").GetString()!.Length);
        }
        finally
        {
            slow.ForEach(socket => socket.Dispose());
        }
    }

    /// <summary>
    /// The upload is copied into one buffer once read (SkiaSharp's DetachAsData): for a moment it is
    /// held twice, and the budget counts both, so uploads cannot take twice the memory it allows.
    /// </summary>
    [Theory]
    [InlineData(3, HttpStatusCode.OK)]
    [InlineData(1.5, HttpStatusCode.ServiceUnavailable)]
    public async Task An_upload_is_counted_twice_while_it_is_copied_into_one_buffer(double budgetTimesFile, HttpStatusCode status)
    {
        var image = TestImages.ReadPdqData("generated/shapes-a.png");
        var gate = new ImageHashingGate(decodeSlots: 2, uploadBudget: (long)(budgetTimesFile * image.Length));
        await using var app = await RegistryApp.StartAsync(services: services => services.AddSingleton(gate));
        using var client = app.CreateClient();
        using var form = ImageUploads.Form(image);

        var response = await client.PostAsync("/v1/images", form);

        Assert.Equal(status, response.StatusCode);
        Assert.Equal(0, gate.UploadBytesReserved); // all given back once answered
    }

    [Fact]
    public void A_reservation_grows_by_doubling_and_takes_just_what_it_needs_when_doubling_does_not_fit()
    {
        const long step = UploadReservation.Step;
        var gate = new ImageHashingGate(decodeSlots: 1, uploadBudget: 4 * step + step / 2);
        using var first = new UploadReservation(gate);

        Assert.True(first.TryHold(10));
        Assert.Equal(step, first.Held);
        Assert.True(first.TryHold(step + 1));
        Assert.Equal(2 * step, first.Held);
        Assert.True(first.TryHold(3 * step));
        Assert.Equal(4 * step, first.Held); // half a step of the budget is left

        using var second = new UploadReservation(gate);
        Assert.True(second.TryHold(100)); // a whole first step does not fit; 100 bytes do
        Assert.Equal(100, second.Held);
        Assert.False(second.TryHold(step)); // neither does the rest of a step
        Assert.Equal(100, second.Held);

        first.Dispose();
        Assert.True(second.TryHold(step));
        Assert.Equal(100 + step, second.Held);

        using var large = new UploadReservation(new ImageHashingGate(decodeSlots: 1, uploadBudget: 2 * UploadReservation.Most));
        Assert.True(large.TryHold(UploadReservation.Most + 1));
        Assert.Equal(UploadReservation.Most, large.Held); // never more than one upload can need
    }
}
