using TorchSharp;

namespace Microsoft.ML.Svae;

/// <summary>Chooses the TorchSharp device as ML.NET's TorchSharp trainers do.</summary>
internal static class TrainingDevice
{
    /// <summary>
    /// CUDA when a GPU id is set (the option's, else the <c>MLContext</c>'s) and CUDA is available; the CPU
    /// when no GPU id is set; when one is set but CUDA is not available, the CPU if falling back is allowed,
    /// else an <see cref="InvalidOperationException"/>.
    /// </summary>
    public static torch.Device Resolve(IHostEnvironment env, SequenceTrainerOptions options)
    {
        TorchNativeLibrary.EnsureLoaded(); // the first use of TorchSharp in Fit: a load failure is explained here
        int? gpu = options.GpuDeviceId;
        bool fallback = options.FallbackToCpu;
        if (gpu is null && MLNetInternals.GpuSettings(env) is var (contextGpu, contextFallback))
        {
            gpu = contextGpu;
            fallback = contextFallback;
        }
        return Resolve(gpu, fallback, torch.cuda.is_available());
    }

    /// <summary>The decision itself, for given settings and CUDA availability.</summary>
    internal static torch.Device Resolve(int? gpuDeviceId, bool fallbackToCpu, bool cudaAvailable)
    {
        if (gpuDeviceId is null)
            return torch.CPU;
        if (cudaAvailable)
            return new torch.Device(DeviceType.CUDA, gpuDeviceId.Value);
        if (fallbackToCpu)
            return torch.CPU;
        throw new InvalidOperationException(
            $"GPU device {gpuDeviceId} was requested (GpuDeviceId) but CUDA is not available to TorchSharp " +
            "(no CUDA device, or the application bundles the TorchSharp-cpu backend instead of TorchSharp-cuda-*). " +
            "Set FallbackToCpu = true to train on the CPU instead, or GpuDeviceId = null.");
    }
}
