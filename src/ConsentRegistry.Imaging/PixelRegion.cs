namespace ConsentRegistry.Imaging;

/// <summary>A rectangle of pixels in a <see cref="DecodedImage"/>: left, top, width and height.</summary>
public readonly record struct PixelRegion(int X, int Y, int Width, int Height)
{
    public static PixelRegion Whole(DecodedImage image) => new(0, 0, image.Width, image.Height);

    public override string ToString() => $"{Width}×{Height} at ({X}, {Y})";
}
