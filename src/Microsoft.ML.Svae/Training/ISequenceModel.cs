using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// The one contract of a neural recommender (its "model adapter", <c>Models/&lt;M&gt;/&lt;M&gt;Model.cs</c>): a module, a
/// loss over a batch of user sequences, a scorer of users from their whole history, and the ONNX graph of the fitted
/// model. The shared training loop, the evaluator and <see cref="SequenceTrainerBase{TTransformer}"/> see a model only
/// through it.
/// </summary>
/// <remarks>
/// <para>
/// The loss is a SUM of per-unit terms; the model decides what a unit is (an SVAE step, an MVAE user, a BPR
/// pair, a Caser window) through <see cref="LossUnits"/>. The loop divides the sum by a constant, the expected
/// number of units in a full batch, so that every unit of the epoch weighs the same in the gradient (as in the
/// sums over users and steps of the paper's objectives) while the step size is that of a per-unit mean; the
/// reported epoch loss is the mean per unit.
/// </para>
/// <para>
/// Models that are not variational ignore the KL weight β. Models that need per-user parameters (BPR, FPMC)
/// read <see cref="SequenceBatch.Users"/>; models with multi-hot inputs (MVAE) build them from
/// <see cref="SequenceBatch.Items"/> and <see cref="SequenceBatch.Mask"/> with a scatter.
/// </para>
/// </remarks>
internal interface ISequenceModel : IDisposable
{
    /// <summary>The trainable module, on the training device; owned by the model (disposed with it).</summary>
    nn.Module Module { get; }

    /// <summary>
    /// The number of loss units a training user with a history of <paramref name="length"/> events (after
    /// truncation) contributes; users with 0 units are left out of training batches.
    /// </summary>
    long LossUnits(int length);

    /// <summary>
    /// The batch loss to minimize: a scalar tensor holding the SUM of the batch's per-unit losses
    /// (see <see cref="LossUnits"/>). Called in training mode, with gradients enabled, inside the batch's
    /// dispose scope.
    /// </summary>
    /// <param name="batch">The users' (possibly truncated) histories.</param>
    /// <param name="klWeight">β, the weight of the KL term of variational models; ignored by the others.</param>
    Tensor Loss(SequenceBatch batch, double klWeight);

    /// <summary>
    /// Scores every item for each user of <paramref name="batch"/> from the user's whole history:
    /// a <c>[B, N]</c> float tensor on the batch's device, higher is better. Seen items are NOT masked
    /// (the caller masks them). Called in eval mode under <c>no_grad</c>.
    /// </summary>
    Tensor ScoreUsers(SequenceBatch batch);

    /// <summary>
    /// The fitted model's ONNX graph with the trained weights (called after training, the module on the CPU in
    /// eval mode); it must score as <see cref="ScoreUsers"/> does.
    /// </summary>
    byte[] WriteOnnx(RecommendationModelDescription description);

    /// <summary>
    /// The model's own TorchSharp generators that training advances (ε, dropout masks, sampled negatives), in a
    /// fixed order: checkpoints save and restore their states.
    /// </summary>
    IReadOnlyList<Generator> Generators => [];

    /// <summary>The model's sampler of negative items, if it has one (checkpoints restore its position).</summary>
    NegativeSampler? NegativeSampler => null;
}

/// <summary>
/// A batch of user sequences packed for TorchSharp: right-padded <c>[B, T]</c> item indices with lengths.
/// The tensors are created in the caller's dispose scope and live as long as it.
/// </summary>
internal sealed class SequenceBatch
{
    /// <summary>Creates a batch; see the properties.</summary>
    public SequenceBatch(int[] users, int[] lengths, int maxLength, Tensor items, Tensor lengthsTensor)
    {
        Users = users;
        Lengths = lengths;
        MaxLength = maxLength;
        Items = items;
        LengthTensor = lengthsTensor;
        // Built here, in the scope that owns the batch: built lazily, it would belong to whichever inner
        // dispose scope read it first and be freed under later readers.
        Mask = TorchScalars.Range(maxLength, items.device).unsqueeze(0) < lengthsTensor.unsqueeze(1);
    }

    /// <summary>Row b's user: an index into the <see cref="UserSequences"/> the batch was packed from.</summary>
    public int[] Users { get; }

    /// <summary>Row b's number of valid positions (after truncation); may be 0 for scoring batches.</summary>
    public int[] Lengths { get; }

    /// <summary>T, the padded length (the longest row, at least 1).</summary>
    public int MaxLength { get; }

    /// <summary>B, the number of users.</summary>
    public int Count => Users.Length;

    /// <summary>
    /// <c>[B, T]</c> int64 0-based item indices in time order, right-padded with 0 (a valid item index:
    /// padding must be masked with <see cref="Mask"/> or <see cref="LengthTensor"/>, never used as an item).
    /// </summary>
    public Tensor Items { get; }

    /// <summary><c>[B]</c> int64 lengths, on the batch's device.</summary>
    public Tensor LengthTensor { get; }

    /// <summary><c>[B, T]</c> bool: true at valid positions (t &lt; length).</summary>
    public Tensor Mask { get; }

    /// <summary>The device of the batch's tensors.</summary>
    public Device Device => Items.device;
}
