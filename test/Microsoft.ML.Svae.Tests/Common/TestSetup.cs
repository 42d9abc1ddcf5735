using System.Runtime.CompilerServices;

namespace Microsoft.ML.Svae.Tests.Common;

internal static class TestSetup
{
    /// <summary>
    /// xunit runs test classes in parallel on this machine's cores; one libtorch thread per test keeps the
    /// OpenMP pools of parallel tests from oversubscribing the cores (which slowed epochs 40× here).
    /// </summary>
    [ModuleInitializer]
    internal static void OneTorchThreadPerTest() => TorchSharp.torch.set_num_threads(1);
}
