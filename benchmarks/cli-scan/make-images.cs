#:package SkiaSharp
#:package SkiaSharp.NativeAssets.Linux.NoDependencies
#:property PublishAot=false
// Makes N distinct 1000x1000 JPEGs (quality 90) in a folder, for benchmarks/cli-scan.sh: smooth
// gradients under random shapes and noise, so that each has the detail of a photo to decode.
using SkiaSharp;

var folder = args[0];
var count = int.Parse(args[1]);
Directory.CreateDirectory(folder);
Parallel.For(0, count, i =>
{
    var random = new Random(i);
    using var surface = SKSurface.Create(new SKImageInfo(1000, 1000));
    var canvas = surface.Canvas;
    using var gradient = SKShader.CreateLinearGradient(
        new SKPoint(0, 0), new SKPoint(1000, random.Next(1000)),
        [Color(random), Color(random), Color(random)], SKShaderTileMode.Clamp);
    using (var paint = new SKPaint { Shader = gradient })
    {
        canvas.DrawRect(0, 0, 1000, 1000, paint);
    }

    using var shape = new SKPaint { IsAntialias = true };
    for (var s = 0; s < 60; s++)
    {
        shape.Color = Color(random).WithAlpha((byte)random.Next(60, 220));
        canvas.DrawCircle(random.Next(1000), random.Next(1000), random.Next(10, 200), shape);
    }

    using var noise = SKShader.CreatePerlinNoiseFractalNoise(0.02f + (float)random.NextDouble() * 0.05f, 0.02f, 4, i);
    using (var paint = new SKPaint { Shader = noise, BlendMode = SKBlendMode.Overlay })
    {
        canvas.DrawRect(0, 0, 1000, 1000, paint);
    }

    using var image = surface.Snapshot();
    using var data = image.Encode(SKEncodedImageFormat.Jpeg, 90);
    File.WriteAllBytes(Path.Combine(folder, $"{i:D9}.jpg"), data.ToArray());
});

static SKColor Color(Random random) => new((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
