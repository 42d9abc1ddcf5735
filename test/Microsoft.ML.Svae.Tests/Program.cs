namespace Microsoft.ML.Svae.Tests;

/// <summary>
/// The test assembly's entry point (instead of the one Microsoft.NET.Test.Sdk generates): the test host does not use
/// it; tests start this assembly as a child process (<see cref="Training.CheckpointChild"/>) to kill it mid-training.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length >= 3 && args[0] == Training.CheckpointChild.Command)
            return Training.CheckpointChild.Run(args);
        Console.Error.WriteLine($"usage: {Training.CheckpointChild.Command} FOLDER OUTPUT [STALL-EPOCH STALL-BATCH]");
        return 2;
    }
}
