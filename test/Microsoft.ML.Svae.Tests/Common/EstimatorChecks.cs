using Microsoft.ML.Data;

namespace Microsoft.ML.Svae.Tests.Common;

/// <summary>
/// The checks every recommender goes through (after ML.NET's TestEstimatorCore): the estimator's
/// output schema shape matches the transformer's output schema, bad input fails with a message
/// naming the column, and a save/load round trip keeps the schema and the recommendations.
/// </summary>
internal static class EstimatorChecks
{
    public static void Run<T>(MLContext mlContext, IEstimator<T> estimator, IDataView train, IDataView score)
        where T : RecommendationTransformer
    {
        using var model = estimator.Fit(train);

        // Schema propagation.
        var shape = estimator.GetOutputSchema(ShapeOf(train.Schema));
        var output = model.Transform(score);
        foreach (var column in shape)
        {
            var actual = output.Schema.GetColumnOrNull(column.Name);
            Assert.True(actual.HasValue, $"Column {column.Name} promised by GetOutputSchema is missing.");
            var type = actual!.Value.Type;
            Assert.Equal(column.ItemType.RawType, (type is VectorDataViewType v ? v.ItemType : type).RawType);
        }
        Assert.NotNull(output.Schema.GetColumnOrNull(SequenceColumns.TopItems));

        // Invalid input: a history column of the wrong type, and a missing column.
        var wrong = mlContext.Data.LoadFromEnumerable(new[] { new { History = new float[] { 1, 2 } } }.Select(x => new WrongRow { History = x.History }));
        var typeError = Assert.ThrowsAny<ArgumentException>(() => model.Transform(wrong));
        Assert.Contains("History", typeError.Message);
        Assert.Contains("Key<UInt32>", typeError.Message);
        var missing = mlContext.Data.LoadFromEnumerable(new[] { new OtherRow() });
        var missingError = Assert.ThrowsAny<ArgumentException>(() => estimator.Fit(missing));
        Assert.Contains("History", missingError.Message);

        // Save / load round trips. The key form reads and writes keys like the in-process model.
        string path = Path.Combine(Path.GetTempPath(), $"svae-test-{Guid.NewGuid():N}.zip");
        try
        {
            mlContext.Model.Save(model.AsKeyInputModel(), train.Schema, path);
            var loaded = mlContext.Model.Load(path, out var inputSchema);
            try
            {
                Assert.Equal(train.Schema[SequenceColumns.History].Type, inputSchema[SequenceColumns.History].Type);
                var reloaded = loaded.Transform(score);
                Assert.Equal(SequenceTestData.KeyColumn(output, SequenceColumns.TopItems), SequenceTestData.KeyColumn(reloaded, SequenceColumns.TopItems));
                Assert.Equal(SequenceTestData.FloatColumn(output, SequenceColumns.TopScores), SequenceTestData.FloatColumn(reloaded, SequenceColumns.TopScores));
                Assert.Equal(output.Schema[SequenceColumns.TopItems].Type, reloaded.Schema[SequenceColumns.TopItems].Type);
            }
            finally
            {
                (loaded as IDisposable)?.Dispose();
            }

            // The default zip reads item ids: a key history is refused, naming the column and both types.
            mlContext.Model.Save(model, train.Schema, path);
            var idModel = mlContext.Model.Load(path, out _);
            try
            {
                var error = Assert.ThrowsAny<InvalidOperationException>(() => idModel.Transform(score).Preview(1));
                Assert.Contains("'History'", error.Message);
                Assert.Contains("Key<UInt32", error.Message);
            }
            finally
            {
                (idModel as IDisposable)?.Dispose();
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    // ML.NET keeps SchemaShape.Create internal; tests reach it by reflection (the library does not).
    private static SchemaShape ShapeOf(DataViewSchema schema)
        => (SchemaShape)typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .Invoke(null, new object[] { schema })!;

    private sealed class WrongRow
    {
        public float[] History { get; set; } = Array.Empty<float>();
    }

    private sealed class OtherRow
    {
        public float Something { get; set; }
    }
}
