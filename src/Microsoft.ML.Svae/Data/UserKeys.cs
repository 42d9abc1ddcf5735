using Microsoft.ML.Data;

namespace Microsoft.ML.Svae;

/// <summary>
/// The one place where a user key column (a scalar <c>Key&lt;UInt32&gt;</c>, such as
/// <see cref="SequenceColumns.UserId"/> of a <see cref="SequenceDataset"/>) is checked and read, for the models
/// with per-user parameters (BPR, FPMC, Caser).
/// </summary>
internal static class UserKeys
{
    /// <summary>The row value of a missing or unknown user: no per-user parameters.</summary>
    public const int Unknown = -1;

    /// <summary>
    /// Checks that the column exists and is a scalar <c>Key&lt;UInt32&gt;</c>, and returns its key count (the
    /// number of users); the messages name the column and its role.
    /// </summary>
    public static int CheckColumn(DataViewSchema schema, string name, string role)
    {
        var column = SchemaChecks.Column(schema, name, role);
        if (column.Type is KeyDataViewType key && key.RawType == typeof(uint))
        {
            if (key.Count == 0 || key.Count > int.MaxValue)
                throw new ArgumentOutOfRangeException(name,
                    $"The {role} column '{name}' has a key type with {key.Count} keys; expected between 1 and {int.MaxValue} users.");
            return (int)key.Count;
        }
        throw new ArgumentOutOfRangeException(name,
            $"The {role} column '{name}' must be a scalar Key<UInt32> of user keys, but its type is {SchemaChecks.Describe(column.Type)}. " +
            "Map raw user ids to keys with mlContext.Transforms.Conversion.MapValueToKey, or prepare the data with mlContext.Recommendation().Data.");
    }

    /// <summary>Checks a column of a schema shape (an estimator's input): present, scalar, <c>Key&lt;UInt32&gt;</c>.</summary>
    public static void CheckColumn(SchemaShape schema, string name, string role)
    {
        var found = schema.Where(c => c.Name == name).ToList();
        if (found.Count == 0)
            throw new ArgumentOutOfRangeException(name, $"The {role} column '{name}' was not found in the input schema.");
        var column = found[^1];
        if (column.Kind != SchemaShape.Column.VectorKind.Scalar || !column.IsKey || column.ItemType.RawType != typeof(uint))
            throw new ArgumentOutOfRangeException(name,
                $"The {role} column '{name}' must be a scalar Key<UInt32> of user keys, but is a {column.Kind} of {SchemaChecks.Describe(column.ItemType)}{(column.IsKey ? " keys" : "")}.");
    }

    /// <summary>
    /// Reads the column: one 0-based user index (key − 1) per row, <see cref="Unknown"/> for the missing key 0
    /// and for keys above <paramref name="userCount"/> (the number of users with parameters).
    /// </summary>
    /// <param name="data">The rows, in the order their histories were read.</param>
    /// <param name="name">The user key column.</param>
    /// <param name="role">The column's role, for messages (e.g. "user id", "validation user id").</param>
    /// <param name="userCount">The number of known users; keys above it are unknown.</param>
    public static int[] Read(IDataView data, string name, string role, int userCount)
    {
        CheckColumn(data.Schema, name, role);
        var column = data.Schema[name];
        var users = new List<int>();
        using var cursor = data.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<uint>(column);
        uint key = 0;
        while (cursor.MoveNext())
        {
            getter(ref key);
            users.Add(key == 0 || key > userCount ? Unknown : (int)(key - 1));
        }
        return users.ToArray();
    }
}
