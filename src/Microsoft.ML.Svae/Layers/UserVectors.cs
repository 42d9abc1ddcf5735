using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>User vectors of possibly unknown users.</summary>
internal static class UserVectors
{
    /// <summary>
    /// The rows <c>[B, d]</c> of <paramref name="table"/> <c>[U, d]</c> at 0-based <paramref name="users"/>
    /// <c>[B]</c>, zero where a user is −1 (unknown).
    /// </summary>
    public static Tensor Lookup(Tensor table, Tensor users)
    {
        using var scope = NewDisposeScope();
        var known = users.ge(TorchScalars.Zero);
        var rows = table.index_select(0, users.clamp_min(TorchScalars.Zero));
        return (rows * known.unsqueeze(1).to(rows.dtype)).MoveToOuterDisposeScope();
    }
}
