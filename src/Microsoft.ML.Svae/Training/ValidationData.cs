namespace Microsoft.ML.Svae;

/// <summary>Reads the validation users every neural trainer uses for early stopping.</summary>
internal static class ValidationData
{
    /// <summary>
    /// The validation users' fold-in (the history column) and fold-out, or two nulls without validation data;
    /// the history column must use the training vocabulary of <paramref name="itemCount"/> items.
    /// </summary>
    public static (UserSequences? FoldIn, UserSequences? FoldOut) Read(IDataView? validationData, SequenceTrainerOptions options, int itemCount)
    {
        if (validationData is null)
            return (null, null);
        int validationItems = SchemaChecks.ItemKeyVectorColumn(validationData.Schema, options.HistoryColumnName, "validation history");
        if (validationItems != itemCount)
            throw new ArgumentOutOfRangeException(nameof(validationData),
                $"The validation history column '{options.HistoryColumnName}' has {validationItems} item keys but the training data has {itemCount}: both must use the same item vocabulary.");
        return (UserSequences.Read(validationData, options.HistoryColumnName, "validation history"),
                UserSequences.Read(validationData, options.FoldOutColumnName, "validation fold-out"));
    }
}
