using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// TorchSharp <see cref="Scalar"/>s whose lifetime we own, and tensor operations that use them instead of the
/// <see cref="Scalar"/>s TorchSharp would create implicitly.
/// </summary>
/// <remarks>
/// <para>
/// Why: in TorchSharp 0.107.0 a primitive operand of a tensor operation (<c>x - 1</c>, <c>0.5 * x</c>,
/// <c>x.clamp_min(0)</c>, <c>full(shape, value)</c>, and the alpha <c>1</c> that <c>a + b</c> passes to
/// <c>add(b, alpha)</c>) is converted to a new <see cref="Scalar"/> that nothing references once its native handle has
/// been read: the P/Invoke call that uses the handle does not keep the managed object alive (no
/// <see cref="GC.KeepAlive(object)"/>). A garbage collection triggered by ANOTHER thread while libtorch runs can then
/// finalize it, and the finalizer thread frees the <c>c10::Scalar</c> libtorch is reading. That is the "Expected false to
/// be true" from <c>Scalar::toFloat</c> and the "Unknown scalar type" we saw (see <see cref="NativeCallGuard"/>).
/// Upstream: dotnet/TorchSharp pull requests #1434 ("Dispose Scalars implicitly created in Tensor operators") and #1496
/// ("Dispose implicitly converted TorchSharp.Scalar and torch.Tensor"), both still open for 0.107.0.
/// </para>
/// <para>
/// How: every <see cref="Scalar"/> on our training and scoring paths is either one of the shared constants here (static
/// fields: they stay reachable for the life of the process and are only read by libtorch, so threads may share them)
/// or a local created with <c>using var s = value.ToScalar();</c>, which the <c>using</c> keeps alive until after
/// the native call. Tensors need no such care there: the dispose scope every step runs in references them. Each constant
/// has the .NET type TorchSharp's implicit conversion would have used (an <see cref="int"/> 1 for alpha, a
/// <see cref="double"/> 0.5), so the numbers computed are the same bit for bit.
/// </para>
/// <para>
/// Exit condition: when the TorchSharp version in Directory.Packages.props disposes implicit scalars after the native
/// call (the pull requests above), the plain operators are safe again and these helpers can go.
/// </para>
/// </remarks>
internal static class TorchScalars
{
    // Creating a Scalar calls into libtorch: load it (with this library's loader fix) before the first one.
    static TorchScalars()
    {
        TorchNativeLibrary.EnsureLoaded();
        One = 1.ToScalar();
        Zero = 0.ToScalar();
        MinusOne = (-1).ToScalar();
        Half = 0.5.ToScalar();
        NegativeInfinity = float.NegativeInfinity.ToScalar();
        SoftplusBeta = 1.0.ToScalar();
        SoftplusThreshold = 20.0.ToScalar();
    }

    /// <summary>The integer 1: <c>add</c>'s alpha, and the 1 of <c>x - 1</c> on int64 tensors.</summary>
    public static readonly Scalar One;

    /// <summary>The integer 0.</summary>
    public static readonly Scalar Zero;

    /// <summary>The integer −1.</summary>
    public static readonly Scalar MinusOne;

    /// <summary>The double 0.5.</summary>
    public static readonly Scalar Half;

    /// <summary>The float −∞.</summary>
    public static readonly Scalar NegativeInfinity;

    /// <summary><c>left + right</c> with the shared alpha <see cref="One"/> (the operator creates a new one per call).</summary>
    public static Tensor Plus(this Tensor left, Tensor right) => left.add(right, One);

    /// <summary><c>left + right</c> for a scalar right operand, with the shared alpha <see cref="One"/>.</summary>
    public static Tensor Plus(this Tensor left, Scalar right) => left.add(right, One);

    /// <summary>In-place <c>left += right</c> with the shared alpha <see cref="One"/>.</summary>
    public static Tensor PlusInPlace(this Tensor left, Tensor right) => left.add_(right, One);

    /// <summary>Softplus's β (1) and threshold (20): TorchSharp's defaults, as <see cref="double"/>s as it converts them.</summary>
    private static readonly Scalar SoftplusBeta, SoftplusThreshold;

    // Tensor.softplus(double, double) converts both to Scalars it does not keep alive; the private overload it forwards
    // to takes Scalars. Null when a TorchSharp version no longer has it: then the public method is used (a version
    // without the private overload is expected to be one with the fix, see the remarks).
    private static readonly Func<Tensor, Scalar, Scalar, Tensor>? SoftplusWithScalars =
        typeof(Tensor).GetMethod("softplus1", BindingFlags.Instance | BindingFlags.NonPublic, [typeof(Scalar), typeof(Scalar)])
            ?.CreateDelegate<Func<Tensor, Scalar, Scalar, Tensor>>();

    /// <summary>Whether <see cref="Softplus"/> passes its own β and threshold (false: TorchSharp's implicit ones).</summary>
    internal static bool SoftplusOwnsItsScalars => SoftplusWithScalars is not null;

    /// <summary>
    /// <c>log(1 + exp(x))</c>, exactly TorchSharp's <c>softplus()</c> (β = 1, threshold = 20), with owned β and threshold.
    /// </summary>
    public static Tensor Softplus(Tensor x)
        => SoftplusWithScalars is { } softplus ? softplus(x, SoftplusBeta, SoftplusThreshold) : x.softplus();

    /// <summary><c>x * factor</c> with an owned Scalar (initialisation: <c>randn(…) * std</c>).</summary>
    public static Tensor Times(this Tensor x, double factor)
    {
        using var scalar = factor.ToScalar();
        return x.mul(scalar);
    }

    /// <summary><c>u * (2·bound) − bound</c> with owned Scalars: U(0, 1) draws mapped to U(−bound, bound).</summary>
    public static Tensor ToSymmetric(this Tensor u, double bound)
    {
        using var width = (2 * bound).ToScalar();
        using var shift = bound.ToScalar();
        return u.mul(width).sub(shift);
    }

    /// <summary><c>0 .. count − 1</c> as int64, with owned start and step (<c>arange(stop)</c> creates both implicitly).</summary>
    public static Tensor Range(long count, Device device)
    {
        using var stop = count.ToScalar();
        return arange(Zero, stop, One, ScalarType.Int64, device);
    }
}
