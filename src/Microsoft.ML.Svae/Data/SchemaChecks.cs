using Microsoft.ML.Data;

namespace Microsoft.ML.Svae;

/// <summary>Schema validation with messages that name the column, its role and what was expected.</summary>
internal static class SchemaChecks
{
    /// <summary>The column, or an exception naming it and listing the columns that exist.</summary>
    public static DataViewSchema.Column Column(DataViewSchema schema, string name, string role)
    {
        if (string.IsNullOrEmpty(name))
            throw new ArgumentException($"The {role} column name must not be empty.");
        var column = schema.GetColumnOrNull(name);
        if (column is null)
        {
            string existing = string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"));
            throw new ArgumentOutOfRangeException(name,
                $"The {role} column '{name}' was not found in the input schema (columns: {existing}).");
        }
        return column.Value;
    }

    /// <summary>
    /// Checks that the column is a variable- or fixed-length vector of <c>Key&lt;UInt32&gt;</c> item keys
    /// and returns its key count (the number of items).
    /// </summary>
    public static int ItemKeyVectorColumn(DataViewSchema schema, string name, string role)
    {
        var column = Column(schema, name, role);
        if (column.Type is VectorDataViewType vector && vector.ItemType is KeyDataViewType key && key.RawType == typeof(uint))
        {
            if (key.Count == 0 || key.Count > int.MaxValue)
                throw new ArgumentOutOfRangeException(name, $"The {role} column '{name}' has a key type with {key.Count} keys; expected between 1 and {int.MaxValue} items.");
            return (int)key.Count;
        }
        throw new ArgumentOutOfRangeException(name,
            $"The {role} column '{name}' must be a vector of Key<UInt32> item keys (Vector<Key<UInt32>>), but its type is {Describe(column.Type)}. " +
            "Map raw item ids to keys with mlContext.Transforms.Conversion.MapValueToKey, or prepare the data with mlContext.Recommendation().Data.");
    }

    /// <summary>A readable type name, e.g. <c>Vector&lt;Single&gt;</c> or <c>Key&lt;UInt32, 0-99&gt;</c>.</summary>
    public static string Describe(DataViewType type) => type switch
    {
        VectorDataViewType v => $"Vector<{Describe(v.ItemType)}{(v.Size > 0 ? ", " + v.Size : "")}>",
        KeyDataViewType k => $"Key<{k.RawType.Name}, {k.Count} keys>",
        _ => type.RawType.Name == "ReadOnlyMemory`1" ? "Text" : type.RawType.Name,
    };
}
