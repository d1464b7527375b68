#:package SkiaSharp
#:package SkiaSharp.NativeAssets.Linux.NoDependencies
#:property PublishAot=false
// Makes N distinct 1000x1000 JPEGs (quality 90) in a folder, for benchmarks/cli-scan.sh. With a
// third argument, a folder of photographs: each image is a different window of one of them,
// scaled to 1000x1000. Without: smooth gradients under random shapes and noise.
using SkiaSharp;

var folder = args[0];
var count = int.Parse(args[1]);
var photos = args.Length > 2 ? Directory.GetFiles(args[2]).Order(StringComparer.Ordinal).Select(SKBitmap.Decode).Where(bitmap => bitmap is not null).ToArray() : [];
Directory.CreateDirectory(folder);
Parallel.For(0, count, i =>
{
    if (photos.Length > 0)
    {
        File.WriteAllBytes(Path.Combine(folder, $"{i:D9}.jpg"), Window(photos[i % photos.Length], new Random(i)));
        return;
    }

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

// A random square window of half to all of the photo's shorter side, scaled to 1000x1000.
static byte[] Window(SKBitmap photo, Random random)
{
    var side = (int)(Math.Min(photo.Width, photo.Height) * (0.5 + random.NextDouble() * 0.5));
    var x = random.Next(photo.Width - side + 1);
    var y = random.Next(photo.Height - side + 1);
    using var surface = SKSurface.Create(new SKImageInfo(1000, 1000));
    using var image = SKImage.FromBitmap(photo);
    surface.Canvas.DrawImage(image, SKRect.Create(x, y, side, side), SKRect.Create(0, 0, 1000, 1000), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
    using var snapshot = surface.Snapshot();
    using var data = snapshot.Encode(SKEncodedImageFormat.Jpeg, 90);
    return data.ToArray();
}

static SKColor Color(Random random) => new((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
