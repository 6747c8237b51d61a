# Build hgpt for Windows x64: a venv, the runtimes, PyInstaller, then the Inno Setup installer.
# Run from a "x64 Native Tools" PowerShell with Python 3.11, CMake, Visual Studio Build Tools
# (C++), and Inno Setup 6 (iscc.exe on PATH) installed:
#   powershell -ExecutionPolicy Bypass -File installers\windows\build_windows.ps1            # CPU
#   powershell -ExecutionPolicy Bypass -File installers\windows\build_windows.ps1 -Gpu cuda  # NVIDIA
#   powershell -ExecutionPolicy Bypass -File installers\windows\build_windows.ps1 -Gpu vulkan
# GPU variants: llama.cpp is compiled with -DGGML_CUDA=on (needs the CUDA Toolkit) or
# -DGGML_VULKAN=on (needs the Vulkan SDK); with cuda, torch comes from the PyTorch CUDA
# index instead of PyPI's CPU wheel. The installer then carries those libraries.
# NOT TESTED on this project's Linux machines: no Windows host was available.
param([ValidateSet("cpu", "cuda", "vulkan")] [string]$Gpu = "cpu",
      [string]$TorchCudaIndex = "https://download.pytorch.org/whl/cu126")
$ErrorActionPreference = "Stop"
$Root = Resolve-Path "$PSScriptRoot\..\.."
Set-Location $Root
$Venv = "$Root\.venv-win"
$Py = "$Venv\Scripts\python.exe"

if (-not (Test-Path $Py)) { py -3.11 -m venv $Venv }
& $Py -m pip install --upgrade pip wheel

if ($Gpu -eq "cuda") {
  & $Py -m pip install "torch==2.13.0" --index-url $TorchCudaIndex
} else {
  & $Py -m pip install "torch==2.13.0"
}
switch ($Gpu) {
  "cuda"   { $env:CMAKE_ARGS = "-DGGML_CUDA=on -DLLAVA_BUILD=OFF" }
  "vulkan" { $env:CMAKE_ARGS = "-DGGML_VULKAN=on -DLLAVA_BUILD=OFF" }
  default  { $env:CMAKE_ARGS = "-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" }
}
& $Py -m pip install "llama-cpp-python==0.3.36" --no-cache-dir
& $Py -m pip install -e ".[llm,experts,desktop,bundle]"
& $Py -m pip install --no-deps -r requirements-packs.txt

& $Py installers\render_icons.py
& $Py -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller installers\hgpt.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }
& dist\hgpt\hgpt.exe --help | Out-Null
if ($LASTEXITCODE -ne 0) { throw "dist\hgpt\hgpt.exe --help failed" }

$Version = & $Py -c "import tomllib; print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])"
iscc "/DAppVersion=$Version" installers\windows\hgpt.iss
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed (is iscc.exe on PATH?)" }
Write-Host "built dist\hgpt-setup-$Version.exe"
