namespace Microsoft.ML.Svae;

/// <summary>
/// Thrown by a sequence trainer's <c>Fit</c> when an epoch's mean loss is not a finite number (training diverged,
/// typically from too high a learning rate). A hyperparameter sweep can catch it to record the trial as diverged and
/// go on with the next one.
/// </summary>
public sealed class TrainingDivergedException : InvalidOperationException
{
    /// <summary>Creates the exception with a default message.</summary>
    public TrainingDivergedException()
        : base("Training diverged: an epoch's mean loss is not a finite number.")
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    public TrainingDivergedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/> and the exception that caused it.</summary>
    public TrainingDivergedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal TrainingDivergedException(string message, int epoch, double meanLoss)
        : base(message)
    {
        Epoch = epoch;
        MeanLoss = meanLoss;
    }

    /// <summary>The 1-based epoch whose mean loss was not finite (0 when unknown).</summary>
    public int Epoch { get; }

    /// <summary>That epoch's mean loss: NaN or an infinity (NaN when unknown).</summary>
    public double MeanLoss { get; } = double.NaN;
}
