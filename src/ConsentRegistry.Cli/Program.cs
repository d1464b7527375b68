using System.Runtime.InteropServices;
using ConsentRegistry.Cli;

// Ctrl-C and SIGTERM stop the work cleanly: what is finished stays recorded, --resume continues.
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

CliApp.OwnsProcess = true;
return await CliApp.RunAsync(args, Console.Error, stop.Token);
