using System.Text.Json.Serialization;

namespace Microsoft.ML.Svae;

/// <summary>How the training users of an epoch are grouped into batches (<see cref="SequenceTrainerOptions.BatchOrder"/>).</summary>
/// <remarks>
/// Every user appears exactly once per epoch in either order, and the order is drawn from
/// <see cref="SequenceTrainerOptions.Seed"/>. Serialized by name (<c>"Pooled"</c>, <c>"LengthBuckets"</c>).
/// </remarks>
[JsonConverter(typeof(JsonStringEnumConverter<BatchOrder>))]
public enum BatchOrder
{
    /// <summary>
    /// The default: the users are shuffled, cut into pools of 50 batches, each pool is sorted by length and cut into
    /// batches, and the batches are shuffled. Batches mix users of varied lengths across pools.
    /// </summary>
    Pooled = 0,

    /// <summary>
    /// Length buckets over the whole epoch: the users are shuffled, then sorted by length (users of equal length keep
    /// their shuffled order), cut into batches of users of similar length, and the batches are shuffled. Least padding
    /// (each batch is as long as its longest history), at the cost of batches that are less varied in length.
    /// </summary>
    LengthBuckets = 1,
}
