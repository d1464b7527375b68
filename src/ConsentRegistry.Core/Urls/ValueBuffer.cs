using System.Buffers;
using System.Runtime.CompilerServices;

namespace ConsentRegistry.Core.Urls;

/// <summary>
/// A growable buffer that starts on caller-provided (usually stack) memory and moves to pooled
/// arrays only when it outgrows it. Always <see cref="Dispose"/> it.
/// </summary>
internal ref struct ValueBuffer<T> where T : unmanaged
{
    private Span<T> _items;
    private T[]? _rented;
    private int _length;

    public ValueBuffer(Span<T> initial)
    {
        _items = initial;
        _rented = null;
        _length = 0;
    }

    public int Length
    {
        readonly get => _length;
        set
        {
            if ((uint)value > (uint)_length)
            {
                throw new ArgumentOutOfRangeException(nameof(value));
            }

            _length = value;
        }
    }

    public readonly Span<T> Span => _items[.._length];

    public readonly ref T this[int index] => ref _items[..(_length)][index];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Append(T item)
    {
        int pos = _length;
        Span<T> items = _items;
        if ((uint)pos < (uint)items.Length)
        {
            items[pos] = item;
            _length = pos + 1;
        }
        else
        {
            GrowAndAppend(item);
        }
    }

    public void Append(scoped ReadOnlySpan<T> items)
    {
        if (items.Length > _items.Length - _length)
        {
            Grow(items.Length);
        }

        items.CopyTo(_items[_length..]);
        _length += items.Length;
    }

    public void Insert(int index, T item)
    {
        if ((uint)index > (uint)_length)
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }

        if (_length == _items.Length)
        {
            Grow(1);
        }

        _items[index.._length].CopyTo(_items[(index + 1)..]);
        _items[index] = item;
        _length++;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowAndAppend(T item)
    {
        Grow(1);
        Append(item);
    }

    private void Grow(int additional)
    {
        int needed = _length + additional;
        int size = Math.Max(needed, Math.Max(_items.Length * 2, 64));
        T[] array = ArrayPool<T>.Shared.Rent(size);
        _items[.._length].CopyTo(array);
        T[]? old = _rented;
        _items = _rented = array;
        if (old is not null)
        {
            ArrayPool<T>.Shared.Return(old);
        }
    }

    public void Dispose()
    {
        T[]? rented = _rented;
        this = default;
        if (rented is not null)
        {
            ArrayPool<T>.Shared.Return(rented);
        }
    }
}
